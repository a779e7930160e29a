package report_test

import (
	"fmt"
	"time"

	"github.com/nvae-go/nvae/report"
	"github.com/nvae-go/nvae/tensor"
)

func ExampleGrid() {
	// 16 RGB images of 32×32 in NHWC layout, values in [0, 1].
	images := tensor.New(16, 32, 32, 3)
	grid, err := report.Grid(images, 4) // 4 images per row, like the official tile()
	if err != nil {
		panic(err)
	}
	fmt.Println(grid.Bounds().Dx(), grid.Bounds().Dy())

	recon, _ := report.ReconGrid(images, images, 4, 0) // inputs | reconstructions
	fmt.Println(recon.Bounds().Dx(), recon.Bounds().Dy())
	// Output:
	// 128 128
	// 256 128
}

func ExampleFormatProgress() {
	fmt.Println(report.FormatProgress(report.Stats{
		Step: 1200, Total: 78000, Loss: 812.34, NELBO: 803.2, KL: 95.125,
		ImagesPerSec: 41.7, ETA: 3*time.Hour + 12*time.Minute,
	}))
	// Output:
	// step 1200/78000 (1.5%)  loss 812.34  nelbo 803.2  kl 95.125  img/s 41.7  eta 3h12m
}
