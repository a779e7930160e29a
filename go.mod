module github.com/nvae-go/nvae

go 1.26
