package serve

import (
	_ "embed"
	"net/http"
)

// pageHTML is the explorer page: one HTML file with inline CSS and JavaScript and no
// external assets.
//
//go:embed page.html
var pageHTML []byte

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(pageHTML)
}
