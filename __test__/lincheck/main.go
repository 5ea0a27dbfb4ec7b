// Command lincheck checks a recorded client history (JSONL) for linearizability against a
// sequential model, with Porcupine. See README.md for the format, the models and exit codes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

const (
	exitLinearizable    = 0
	exitNotLinearizable = 1
	exitTimeout         = 2
	exitBadInput        = 3
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lincheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	historyPath := fs.String("history", "", "the history file (JSONL, one operation a line)")
	modelName := fs.String("model", "", "the model: kv or insert")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long (exit 2); 0 means no limit")
	htmlPath := fs.String("html", "", "when not linearizable, write Porcupine's visualization here")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lincheck -history FILE -model kv|insert [-timeout 30s] [-html FILE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitLinearizable
		}
		return exitBadInput
	}
	usage := func(msg string) int {
		fmt.Fprintf(stderr, "lincheck: %s (usage: lincheck -history FILE -model kv|insert [-timeout 30s] [-html FILE])\n", msg)
		return exitBadInput
	}
	switch {
	case fs.NArg() > 0:
		return usage(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case *historyPath == "":
		return usage("-history is required")
	case *timeout < 0:
		return usage("-timeout must not be negative")
	}
	spec, ok := models[*modelName]
	if !ok {
		return usage(fmt.Sprintf("-model %q: want kv or insert", *modelName))
	}

	f, err := os.Open(*historyPath)
	if err != nil {
		fmt.Fprintf(stderr, "lincheck: %v\n", err)
		return exitBadInput
	}
	records, err := readHistory(f, spec)
	f.Close()
	if err != nil {
		fmt.Fprintf(stderr, "lincheck: %s: %v\n", *historyPath, err)
		return exitBadInput
	}

	ops := toOperations(records)
	parts := partitionByKey(ops)
	size := fmt.Sprintf("%d operations, %d partitions", len(ops), len(parts))
	switch porcupine.CheckOperationsTimeout(spec.model, ops, *timeout) {
	case porcupine.Ok:
		fmt.Fprintf(stdout, "ok: linearizable (%s)\n", size)
		return exitLinearizable
	case porcupine.Unknown:
		fmt.Fprintf(stdout, "unknown: the check did not finish within %v (%s)\n", *timeout, size)
		return exitTimeout
	}

	// Not linearizable. Name the keys: each partition on its own, within the same time budget.
	deadline := time.Now().Add(*timeout)
	var broken, undecided []string
	for i, part := range parts {
		key := part[0].Input.(input).key
		budget := time.Duration(0)
		if *timeout > 0 {
			if budget = time.Until(deadline); budget <= 0 {
				for _, rest := range parts[i:] {
					undecided = append(undecided, fmt.Sprintf("%q", rest[0].Input.(input).key))
				}
				break
			}
		}
		switch porcupine.CheckOperationsTimeout(spec.model, part, budget) {
		case porcupine.Illegal:
			broken = append(broken, fmt.Sprintf("%q", key))
			fmt.Fprintf(stdout, "not linearizable: key %q (partition %d of %d, %d operations, lines %s)\n",
				key, i+1, len(parts), len(part), lineSpan(part))
		case porcupine.Unknown:
			undecided = append(undecided, fmt.Sprintf("%q", key))
		}
	}
	fmt.Fprintf(stdout, "not linearizable (%s): %d of %d keys broken", size, len(broken), len(parts))
	if len(broken) > 0 {
		fmt.Fprintf(stdout, ": %s", strings.Join(broken, ", "))
	}
	fmt.Fprintln(stdout)
	if len(undecided) > 0 {
		fmt.Fprintf(stdout, "not decided within the time limit: keys %s\n", strings.Join(undecided, ", "))
	}

	if *htmlPath != "" {
		_, info := porcupine.CheckOperationsVerbose(spec.model, ops, *timeout)
		if err := porcupine.VisualizePath(spec.model, info, *htmlPath); err != nil {
			fmt.Fprintf(stderr, "lincheck: writing the visualization: %v\n", err)
		} else {
			fmt.Fprintf(stdout, "visualization: %s\n", *htmlPath)
		}
	}
	return exitNotLinearizable
}

// lineSpan lists the history lines of a partition's operations, shortened past a few.
func lineSpan(part []porcupine.Operation) string {
	lines := make([]int, len(part))
	for i, op := range part {
		lines[i] = op.Metadata.(int)
	}
	sort.Ints(lines)
	if len(lines) <= 6 {
		text := make([]string, len(lines))
		for i, l := range lines {
			text[i] = fmt.Sprint(l)
		}
		return strings.Join(text, ", ")
	}
	return fmt.Sprintf("%d to %d", lines[0], lines[len(lines)-1])
}
