// Command jsonpath-oracle answers, for each JSON line {"path": P, "body": B} on stdin, what
// ESO's webhook provider makes of answer B with result.jsonPath P: one value (GetSecret) and a
// key map (GetSecretMap), each as {"ok": true, "value": ...} or {"ok": false}. The extraction
// rules are written here from ESO's documented behaviour; the path evaluation is the library
// ESO uses.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"strconv"

	"github.com/PaesslerAG/jsonpath"
)

type request struct {
	Path string `json:"path"`
	Body string `json:"body"`
}

type answer struct {
	OK    bool `json:"ok"`
	Value any  `json:"value,omitempty"`
}

func single(path, body string) answer {
	if path == "" {
		return answer{OK: true, Value: body}
	}
	var doc any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return answer{}
	}
	v, err := jsonpath.Get(path, doc)
	if err != nil {
		return answer{}
	}
	out, err := one(v)
	if err != nil {
		return answer{}
	}
	return answer{OK: true, Value: out}
}

func one(v any) (string, error) {
	switch t := v.(type) {
	case bool:
		return strconv.FormatBool(t), nil
	case nil:
		return "", nil
	case float64:
		return strconv.FormatFloat(t, 'f', 0, 64), nil
	case string:
		return t, nil
	case []any:
		if len(t) == 0 {
			return "", errors.New("empty")
		}
		return one(t[0])
	case map[string]any:
		b, err := json.Marshal(t)
		return string(b), err
	}
	return "", errors.New("type")
}

func keyMap(path, body string) answer {
	var doc any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return answer{}
	}
	if path != "" {
		v, err := jsonpath.Get(path, doc)
		if err != nil {
			return answer{}
		}
		doc = v
	}
	if s, ok := doc.(string); ok {
		if err := json.Unmarshal([]byte(s), &doc); err != nil {
			return answer{}
		}
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return answer{}
	}
	out := map[string]string{}
	for k, v := range m {
		switch t := v.(type) {
		case string:
			out[k] = t
		case float64:
			out[k] = strconv.FormatFloat(t, 'f', -1, 64)
		case bool:
			out[k] = strconv.FormatBool(t)
		case nil:
			out[k] = ""
		default:
			b, err := json.Marshal(t)
			if err != nil {
				return answer{}
			}
			out[k] = string(b)
		}
	}
	return answer{OK: true, Value: out}
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	enc := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var r request
		if err := json.Unmarshal(in.Bytes(), &r); err != nil {
			_ = enc.Encode(map[string]any{"error": err.Error()})
			continue
		}
		_ = enc.Encode(map[string]answer{"single": single(r.Path, r.Body), "map": keyMap(r.Path, r.Body)})
	}
}
