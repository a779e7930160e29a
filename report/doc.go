// Package report makes a training run visible to a person: image grids of samples and
// reconstructions (PNG), training-curve plots (PNG), TensorBoard scalar/image event
// files, a JSON-lines metrics log that survives interruption, and a terminal progress
// line.
//
// Everything here is side-effect free apart from the files and writers it is given;
// files are written atomically (temporary file in the same directory, then rename) or,
// for the append-only logs, one complete record per write.
//
// The package depends on tensor only (plus gonum.org/v1/plot for the curve plots).
package report
