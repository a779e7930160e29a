// Package report makes a training run visible to a person: image grids of samples and
// reconstructions (PNG), training-curve plots (PNG), TensorBoard event files, a
// JSON-lines metrics log that survives interruption, and a terminal progress line.
//
// A training command typically uses it like this:
//
//	tb, _ := report.NewEventWriter(filepath.Join(runDir, "tb"))       // TensorBoard
//	log, _ := report.NewJSONL(filepath.Join(runDir, "metrics.jsonl"), resumed)
//	bar := report.NewProgress(os.Stdout, totalSteps)
//	for step := ... {
//		bar.Update(report.Stats{Step: step, Loss: loss, NELBO: nelbo, KL: kl, ImagesPerSec: ips})
//		if step%100 == 0 {
//			tb.Scalar("train/nelbo_iter", step, float32(loss)) // tags as the official train.py logs them
//			log.Write(map[string]any{"step": step, "nelbo": nelbo, "kl": kl, "lr": lr})
//		}
//		if step%1000 == 0 {
//			img, _ := report.ReconGrid(inputs, outputs, n, 0) // NHWC in [0,1]
//			tb.Image("reconstruction", step, img)
//			report.SavePNG(filepath.Join(runDir, "recon.png"), img)
//			recs, _ := report.ReadJSONL(log.Path())
//			report.PlotCurves(filepath.Join(runDir, "curves.png"),
//				report.SeriesFromRecords(recs, "step", "nelbo", "kl", "lr"), report.PlotOptions{})
//		}
//	}
//	bar.Done(); tb.Close(); log.Close()
//
// Image files are written atomically (temporary file in the same directory, then
// rename); the logs are append-only with one complete record per write.
//
// The package imports tensor only from this module, plus gonum.org/v1/plot for the
// curve plots.
package report
