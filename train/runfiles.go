package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nvae-go/nvae/internal/atomicfile"
)

// MetricsName is the metrics log of a run directory.
const MetricsName = "metrics.jsonl"

// removeStaleTemps deletes the temporary files that atomic writes killed before
// their rename (kill -9, power loss) left in the run directory, and says so on log.
//
// It relies on being the only process writing into dir: a run takes the
// directory's lock before this is called, so any temporary file present is a
// leftover, never a write in progress.
func removeStaleTemps(dir string, log io.Writer) error {
	removed, err := atomicfile.RemoveStaleTemps(dir)
	for _, n := range removed {
		fmt.Fprintf(log, "removed %s, left in %s by an interrupted write\n", n, dir)
	}
	if err != nil {
		return fmt.Errorf("run directory %s: %w", dir, err)
	}
	return nil
}

// trimMetrics rewrites the metrics log at path (atomically) without the rows that a
// run resumed from a checkpoint taken after step completed steps will write again:
// training rows (their "step" is the 0-based index of the update) with step ≥ steps,
// and evaluation rows (any "val_*" field; their "step" counts the updates done)
// with step > steps, or step = steps too when redoEval says the resumed run
// evaluates that step again (a finished run). An unterminated last line that does
// not parse (a write cut short) is dropped; every other line is kept as it is. A
// missing file is not an error, and a file with nothing to drop is not rewritten.
func trimMetrics(path string, steps int, redoEval bool) error {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("metrics log: %w", err)
	}
	var out bytes.Buffer
	dropped := false
	for rest := data; len(rest) > 0; {
		line, tail, terminated := bytes.Cut(rest, []byte{'\n'})
		rest = tail
		var row map[string]json.RawMessage
		parsed := json.Unmarshal(line, &row) == nil && row != nil
		if !parsed && !terminated {
			dropped = true // a write cut short
			continue
		}
		if parsed && redone(row, steps, redoEval) {
			dropped = true
			continue
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	if !dropped {
		return nil
	}
	if err := atomicfile.Write(path, func(w io.Writer) error {
		_, err := w.Write(out.Bytes())
		return err
	}); err != nil {
		return fmt.Errorf("metrics log: %w", err)
	}
	return nil
}

// redone reports whether a metrics row is past a checkpoint taken after steps
// updates (see trimMetrics). Rows without a numeric "step" are kept.
func redone(row map[string]json.RawMessage, steps int, redoEval bool) bool {
	raw, ok := row["step"]
	if !ok {
		return false
	}
	var step float64
	if json.Unmarshal(raw, &step) != nil {
		return false
	}
	isEval := false
	for k := range row {
		if strings.HasPrefix(k, "val_") {
			isEval = true
			break
		}
	}
	return redoneStep(step, isEval, steps, redoEval)
}

// redoneStep is the rule of redone for a point at step, an evaluation's or not.
func redoneStep(step float64, isEval bool, steps int, redoEval bool) bool {
	if isEval {
		return step > float64(steps) || (redoEval && step == float64(steps))
	}
	return step >= float64(steps)
}

// keepEvents is the rule of redone for the TensorBoard points of a run resumed from
// a checkpoint taken after steps updates: it reports the points (by tag and step)
// the resumed run will not write again, which report.ResumeEventWriter carries over
// its restart mark. Evaluation points are the "val/" tags; nil for a new run.
func keepEvents(steps int, redoEval bool) func(tag string, step int64) bool {
	if steps == 0 {
		return nil
	}
	return func(tag string, step int64) bool {
		return !redoneStep(float64(step), strings.HasPrefix(tag, "val/"), steps, redoEval)
	}
}
