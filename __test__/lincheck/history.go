package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// input is what a client asked for. It is comparable, so porcupine can cache states cheaply.
type input struct {
	op    string // put, get, insert, find
	key   string
	value string // put only
}

// output is what a client was told. unknown: the outcome is unknown (the output constrains
// nothing). null: the server answered null (a get of a key never written, a find of an absent
// vector, an insert whose id was not reported). Otherwise val holds the answer: the value itself
// for the kv model, the id's canonical JSON text for the insert model (so 7 and "7" differ).
type output struct {
	unknown bool
	null    bool
	val     string
}

// record is one validated line of the history file.
type record struct {
	line   int
	client int
	in     input
	out    output
	call   int64
	ret    int64 // meaningless when out.unknown
}

// lineError is bad input: it names the line (1-based) it was found on.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

var fields = []string{"client", "op", "key", "value", "call", "ret", "status", "out"}

// maxTime bounds call and ret, leaving room above every time for the return of unknown operations.
const maxTime = 1 << 62

var integerText = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// readHistory reads and validates a JSONL history for the given model. Empty lines are skipped.
func readHistory(r io.Reader, m *modelSpec) ([]record, error) {
	br := bufio.NewReader(r)
	var records []record
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading the history: %w", err)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			rec, perr := parseLine(line, m)
			if perr != nil {
				return nil, &lineError{lineNo, perr.Error()}
			}
			rec.line = lineNo
			records = append(records, rec)
		}
		if errors.Is(err, io.EOF) {
			return records, nil
		}
	}
}

func parseLine(line []byte, m *modelSpec) (record, error) {
	var rec record
	dec := json.NewDecoder(bytes.NewReader(line))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return rec, fmt.Errorf("not a JSON object: %v", err)
	}
	if obj == nil {
		return rec, errors.New("not a JSON object: null")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return rec, errors.New("more than one JSON value on the line")
	}
	var extra []string
	for name := range obj {
		if !contains(fields, name) {
			extra = append(extra, strconv.Quote(name))
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return rec, fmt.Errorf("unknown field %s", strings.Join(extra, ", "))
	}
	for _, name := range fields {
		if _, ok := obj[name]; !ok && name != "value" {
			return rec, fmt.Errorf("missing field %q", name)
		}
	}

	client, err := intField(obj, "client")
	if err != nil {
		return rec, err
	}
	if client < 0 || client > 1<<31-1 {
		return rec, fmt.Errorf("field \"client\" is %d: want a non-negative 32-bit integer", client)
	}
	rec.client = int(client)

	op, err := stringField(obj, "op")
	if err != nil {
		return rec, err
	}
	if !contains(m.ops, op) {
		return rec, fmt.Errorf("op %q is not an operation of the %s model (want %s)", op, m.name, strings.Join(m.ops, " or "))
	}
	key, err := stringField(obj, "key")
	if err != nil {
		return rec, err
	}
	rec.in = input{op: op, key: key}
	if op == m.writeWithValue {
		if raw, ok := obj["value"]; !ok || isNull(raw) {
			return rec, fmt.Errorf("%s needs a string field \"value\"", op)
		}
		if rec.in.value, err = stringField(obj, "value"); err != nil {
			return rec, err
		}
	} else if raw, ok := obj["value"]; ok && !isNull(raw) {
		return rec, fmt.Errorf("%s takes no value: field \"value\" must be null or absent", op)
	}

	if rec.call, err = intField(obj, "call"); err != nil {
		return rec, err
	}
	if rec.call < 0 || rec.call > maxTime {
		return rec, fmt.Errorf("field \"call\" is %d: want 0 to %d", rec.call, int64(maxTime))
	}

	status, err := stringField(obj, "status")
	if err != nil {
		return rec, err
	}
	switch status {
	case "ok":
		if isNull(obj["ret"]) {
			return rec, errors.New("status is \"ok\" but \"ret\" is null")
		}
		if rec.ret, err = retField(obj, rec.call); err != nil {
			return rec, err
		}
		if rec.out, err = m.parseOut(op, obj["out"]); err != nil {
			return rec, err
		}
	case "unknown":
		// The return time is replaced by +infinity, but a recorded one must still make sense.
		if !isNull(obj["ret"]) {
			if rec.ret, err = retField(obj, rec.call); err != nil {
				return rec, err
			}
		}
		if !isNull(obj["out"]) {
			return rec, errors.New("status is \"unknown\" but \"out\" is not null")
		}
		rec.out = output{unknown: true}
	default:
		return rec, fmt.Errorf("field \"status\" is %q: want \"ok\" or \"unknown\"", status)
	}
	return rec, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func stringField(obj map[string]json.RawMessage, name string) (string, error) {
	raw := obj[name]
	var s string
	if isNull(raw) || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("field %q must be a string", name)
	}
	return s, nil
}

func intField(obj map[string]json.RawMessage, name string) (int64, error) {
	text := string(bytes.TrimSpace(obj[name]))
	if !integerText.MatchString(text) {
		return 0, fmt.Errorf("field %q must be an integer, got %s", name, text)
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("field %q is out of range: %s", name, text)
	}
	return n, nil
}

func retField(obj map[string]json.RawMessage, call int64) (int64, error) {
	ret, err := intField(obj, "ret")
	if err != nil {
		return 0, err
	}
	if ret > maxTime {
		return 0, fmt.Errorf("field \"ret\" is %d: want at most %d", ret, int64(maxTime))
	}
	if ret < call {
		return 0, fmt.Errorf("ret (%d) is before call (%d)", ret, call)
	}
	return ret, nil
}

// stringOut reads an answer that must be a string or null.
func stringOut(raw json.RawMessage) (output, error) {
	if isNull(raw) {
		return output{null: true}, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return output{}, errors.New("field \"out\" must be a string or null")
	}
	return output{val: s}, nil
}

// idOut reads an id: a string, an integer or null, kept as canonical JSON text.
func idOut(raw json.RawMessage) (output, error) {
	if isNull(raw) {
		return output{null: true}, nil
	}
	text := string(bytes.TrimSpace(raw))
	if integerText.MatchString(text) {
		if text == "-0" {
			text = "0"
		}
		return output{val: text}, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return output{}, errors.New("field \"out\" must be a string, an integer or null")
	}
	canonical, _ := json.Marshal(s)
	return output{val: string(canonical)}, nil
}

// toOperations turns records into porcupine operations. An operation whose outcome is unknown
// never returns: its return time is later than every time in the history, so the checker may
// place its effect anywhere after its call, including after everything else (not at all).
func toOperations(records []record) []porcupine.Operation {
	var latest int64
	for _, r := range records {
		if r.call > latest {
			latest = r.call
		}
		if !r.out.unknown && r.ret > latest {
			latest = r.ret
		}
	}
	ops := make([]porcupine.Operation, len(records))
	for i, r := range records {
		ret := r.ret
		if r.out.unknown {
			ret = latest + 1
		}
		ops[i] = porcupine.Operation{ClientId: r.client, Input: r.in, Call: r.call, Output: r.out, Return: ret, Metadata: r.line}
	}
	return ops
}

// partitionByKey splits a history into one partition per key, keys in ascending order.
func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, op := range history {
		k := op.Input.(input).key
		byKey[k] = append(byKey[k], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([][]porcupine.Operation, len(keys))
	for i, k := range keys {
		parts[i] = byKey[k]
	}
	return parts
}
