package main

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/anishathalye/porcupine"
)

// modelSpec is one sequential specification with how its lines are read.
type modelSpec struct {
	name           string
	ops            []string
	writeWithValue string // the op that carries "value", or ""
	parseOut       func(op string, raw json.RawMessage) (output, error)
	model          porcupine.Model
}

var models = map[string]*modelSpec{"kv": kvSpec(), "insert": insertSpec()}

// kvState is one key's register: set is false until the first put.
type kvState struct {
	set bool
	val string
}

func kvSpec() *modelSpec {
	return &modelSpec{
		name:           "kv",
		ops:            []string{"put", "get"},
		writeWithValue: "put",
		parseOut: func(op string, raw json.RawMessage) (output, error) {
			if op == "put" {
				return output{null: true}, nil // a put's answer says nothing about the register
			}
			return stringOut(raw)
		},
		model: porcupine.Model{
			Partition: partitionByKey,
			Init:      func() interface{} { return kvState{} },
			Step: func(state, in, out interface{}) (bool, interface{}) {
				s, i, o := state.(kvState), in.(input), out.(output)
				switch {
				case i.op == "put":
					return true, kvState{set: true, val: i.value}
				case o.unknown:
					return true, s
				case o.null:
					return !s.set, s
				default:
					return s.set && s.val == o.val, s
				}
			},
			DescribeOperation: func(in, out interface{}) string {
				i, o := in.(input), out.(output)
				if i.op == "put" {
					suffix := ""
					if o.unknown {
						suffix = " → ?"
					}
					return fmt.Sprintf("put(%q, %q)%s", i.key, i.value, suffix)
				}
				return fmt.Sprintf("get(%q) → %s", i.key, describeOut(o, strconv.Quote))
			},
			DescribeState: func(state interface{}) string {
				s := state.(kvState)
				if !s.set {
					return "null"
				}
				return strconv.Quote(s.val)
			},
			DescribeOperationMetadata: describeLine,
		},
	}
}

// insertState is one key's vector: absent, or present with an id that may not be known yet.
// An id becomes known from the first answer that names it (an acknowledged insert or a find);
// every later answer must name the same id.
type insertState struct {
	present bool
	idKnown bool
	id      string
}

func insertSpec() *modelSpec {
	return &modelSpec{
		name:     "insert",
		ops:      []string{"insert", "find"},
		parseOut: func(_ string, raw json.RawMessage) (output, error) { return idOut(raw) },
		model: porcupine.Model{
			Partition: partitionByKey,
			Init:      func() interface{} { return insertState{} },
			Step: func(state, in, out interface{}) (bool, interface{}) {
				s, i, o := state.(insertState), in.(input), out.(output)
				if i.op == "insert" {
					switch {
					case o.unknown || o.null: // it happened (here), its id is not known
						if !s.present {
							return true, insertState{present: true}
						}
						return true, s
					case !s.present || !s.idKnown:
						return true, insertState{present: true, idKnown: true, id: o.val}
					default: // inserting a present key again must answer the id it already has
						return s.id == o.val, s
					}
				}
				switch {
				case o.unknown:
					return true, s
				case o.null:
					return !s.present, s
				case !s.present:
					return false, s
				case !s.idKnown:
					return true, insertState{present: true, idKnown: true, id: o.val}
				default:
					return s.id == o.val, s
				}
			},
			DescribeOperation: func(in, out interface{}) string {
				i, o := in.(input), out.(output)
				return fmt.Sprintf("%s(%q) → %s", i.op, i.key, describeOut(o, func(s string) string { return s }))
			},
			DescribeState: func(state interface{}) string {
				s := state.(insertState)
				switch {
				case !s.present:
					return "absent"
				case !s.idKnown:
					return "present(id not yet seen)"
				default:
					return "present(" + s.id + ")"
				}
			},
			DescribeOperationMetadata: describeLine,
		},
	}
}

func describeOut(o output, show func(string) string) string {
	switch {
	case o.unknown:
		return "?"
	case o.null:
		return "null"
	default:
		return show(o.val)
	}
}

func describeLine(meta interface{}) string {
	if line, ok := meta.(int); ok {
		return fmt.Sprintf("history line %d", line)
	}
	return ""
}
