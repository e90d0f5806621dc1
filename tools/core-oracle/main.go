// Command core-oracle answers esox-core's differential tests with Go's own behaviour.
//
// It reads one JSON request per line on stdin and writes one JSON answer per line on
// stdout. It is a Go module pinned at the library versions ESO v2.9.0 builds with (go.mod),
// built by crates/esox-core/tests/go_oracle.rs.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha3"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	cron "github.com/robfig/cron/v3"
	"github.com/tidwall/gjson"
)

type request struct {
	Op          string            `json:"op"`
	Data        map[string][]byte `json:"data"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Generation  int64             `json:"generation"`
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	JSON        string            `json:"json"`
	Path        string            `json:"path"`
	Pattern     string            `json:"pattern"`
	Src         string            `json:"src"`
	Template    string            `json:"template"`
	Strategy    string            `json:"strategy"`
	In          []byte            `json:"in"`
	S           string            `json:"s"`
	Nanos       int64             `json:"nanos"`
	At          int64             `json:"at"`
}

type response struct {
	Text   string `json:"text,omitempty"`
	Out    string `json:"out"`
	OutB   []byte `json:"out_b,omitempty"`
	HTML   string `json:"html,omitempty"`
	Exists bool   `json:"exists"`
	Err    bool   `json:"err"`
	Nanos  int64  `json:"nanos"`
}

func hash(v interface{}) (string, string) {
	text := fmt.Sprintf("%+v", v)
	return text, fmt.Sprintf("%x", sha3.Sum224([]byte(text)))
}

// marshal encodes like ESO's esutils.JSONMarshal (escapeHTML=false) or json.Marshal.
func marshal(v interface{}, escapeHTML bool) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	err := enc.Encode(v)
	return strings.TrimRight(buf.String(), "\n"), err
}

func convert(strategy, key string) string {
	var b strings.Builder
	for _, r := range key {
		if unicode.IsLetter(r) || unicode.IsNumber(r) || r == '-' || r == '.' || r == '_' {
			b.WriteRune(r)
			continue
		}
		if strategy == "Unicode" {
			fmt.Fprintf(&b, "_U%04x_", r)
		} else {
			b.WriteString("_")
		}
	}
	return b.String()
}

func decode(strategy string, in []byte) ([]byte, error) {
	switch strategy {
	case "Base64":
		return base64.StdEncoding.DecodeString(string(in))
	case "Base64URL":
		return base64.URLEncoding.DecodeString(string(in))
	case "Auto":
		if out, err := base64.StdEncoding.DecodeString(string(in)); err == nil {
			return out, nil
		}
		if out, err := base64.URLEncoding.DecodeString(string(in)); err == nil {
			return out, nil
		}
		return in, nil
	}
	return in, nil
}

func convertNumbers(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		for k, e := range t {
			t[k] = convertNumbers(e)
		}
		return t
	case []interface{}:
		for i, e := range t {
			t[i] = convertNumbers(e)
		}
		return t
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	}
	return v
}

func handle(req request) response {
	var res response
	switch req.Op {
	case "data_hash":
		res.Text, res.Out = hash(req.Data)
	case "meta_hash":
		type meta struct {
			annotations map[string]string
			labels      map[string]string
		}
		var h string
		res.Text, h = hash(meta{annotations: req.Annotations, labels: req.Labels})
		res.Out = fmt.Sprintf("%d-%s", req.Generation, h)
	case "unstructured":
		// Decode like apimachinery's unstructured JSON: integers int64, other numbers float64.
		dec := json.NewDecoder(bytes.NewReader(req.In))
		dec.UseNumber()
		var v interface{}
		if err := dec.Decode(&v); err != nil {
			res.Err = true
			break
		}
		res.Text, res.Out = hash(convertNumbers(v))
	case "created_by":
		_, res.Out = hash(fmt.Sprintf("%v/%v", req.Namespace, req.Name))
	case "fqdn":
		res.Out = fmt.Sprintf("externalsecrets.external-secrets.io/%v", req.Name)
		if len(res.Out) > 63 {
			res.Out = fmt.Sprintf("externalsecrets.external-secrets.io/sha3/%x", sha3.Sum224([]byte(req.Name)))
		}
	case "gjson":
		r := gjson.Get(req.JSON, req.Path)
		res.Exists = r.Exists()
		res.Out = r.String()
	case "replace":
		re, err := regexp.Compile(req.Pattern)
		if err != nil {
			res.Err = true
			break
		}
		res.Out = re.ReplaceAllString(req.Src, req.Template)
	case "match":
		re, err := regexp.Compile(req.Pattern)
		if err != nil {
			res.Err = true
			break
		}
		res.Exists = re.MatchString(req.Src)
	case "quote":
		res.Out = strconv.Quote(req.S)
	case "convert":
		res.Out = convert(req.Strategy, req.S)
	case "decode":
		out, err := decode(req.Strategy, req.In)
		res.Err = err != nil
		res.OutB = out
	case "duration_parse":
		d, err := time.ParseDuration(req.S)
		res.Err = err != nil
		res.Nanos = int64(d)
	case "duration_format":
		res.Out = time.Duration(req.Nanos).String()
	case "json_any":
		var v interface{}
		if err := json.Unmarshal(req.In, &v); err != nil {
			res.Err = true
			break
		}
		res.Out, _ = marshal(v, false)
		res.HTML, _ = marshal(v, true)
	case "object_values":
		// Per-field encodings ESO applies after json.Unmarshal into map[string]any:
		// GetByteValue (merge rewrite, Extract) and JSONMarshal (extract with property).
		var m map[string]interface{}
		if err := json.Unmarshal(req.In, &m); err != nil {
			res.Err = true
			break
		}
		byteValues := map[string]string{}
		jsonValues := map[string]string{}
		for k, v := range m {
			switch t := v.(type) {
			case string:
				byteValues[k] = t
			case float64:
				byteValues[k] = strconv.FormatFloat(t, 'f', -1, 64)
			case bool:
				byteValues[k] = strconv.FormatBool(t)
			case nil:
				byteValues[k] = ""
			default:
				b, _ := json.Marshal(t)
				byteValues[k] = string(b)
			}
			jsonValues[k], _ = marshal(v, false)
		}
		b1, _ := json.Marshal(byteValues)
		b2, _ := json.Marshal(jsonValues)
		res.Out = string(b1)
		res.HTML = string(b2)
	case "cron":
		// The parser ESO builds for sync windows; times are in UTC.
		parser := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
		sched, err := parser.Parse(req.S)
		if err != nil {
			res.Err = true
			break
		}
		at := time.Unix(0, req.At).UTC()
		next := sched.Next(at)
		if next.IsZero() {
			res.Out = "zero"
		} else {
			res.Out = strconv.FormatInt(next.UnixNano(), 10)
		}
		d := time.Duration(req.Nanos)
		prev := sched.Next(at.Add(-d - time.Second))
		res.Exists = !prev.IsZero() && !prev.After(at) && !at.After(prev.Add(d))
	case "extract_property":
		// The Kubernetes provider's GetSecretMap with a property, written from its documented
		// behaviour: gjson over the JSON of map[string][]byte (literal dotted key first),
		// base64-decode, unmarshal an object, JSON-encode each field without HTML escaping.
		doc, _ := marshal(req.Data, false)
		lookup := func(path string) (map[string]string, bool, error) {
			val := gjson.Get(doc, path)
			if !val.Exists() {
				return nil, false, nil
			}
			decoded, err := base64.StdEncoding.DecodeString(val.String())
			if err != nil {
				return nil, true, err
			}
			var m map[string]interface{}
			if err := json.Unmarshal(decoded, &m); err != nil {
				return nil, true, err
			}
			out := map[string]string{}
			for k, v := range m {
				out[k], _ = marshal(v, false)
			}
			return out, true, nil
		}
		var found bool
		var m map[string]string
		var err error
		if strings.Contains(req.Path, ".") {
			m, found, err = lookup(strings.ReplaceAll(req.Path, ".", "\\."))
		}
		if !found && err == nil {
			m, found, err = lookup(req.Path)
		}
		res.Exists = found
		res.Err = err != nil
		b, _ := json.Marshal(m)
		res.Out = string(b)
	case "get_value":
		// GetSecret with a property (no metadata): exact key, else prefix key + gjson.
		if v, ok := req.Data[req.Path]; ok {
			res.Exists, res.OutB = true, v
			break
		}
		idx := strings.Index(req.Path, ".")
		if idx <= 0 || idx == len(req.Path)-1 {
			break
		}
		v, ok := req.Data[req.Path[:idx]]
		if !ok {
			break
		}
		val := gjson.Get(string(v), req.Path[idx+1:])
		if val.Exists() {
			res.Exists, res.OutB = true, []byte(val.String())
		}
	case "json_strmap":
		m := map[string]string{}
		for k, v := range req.Data {
			m[k] = string(v)
		}
		res.Out, _ = marshal(m, false)
	case "format_float":
		f, err := strconv.ParseFloat(req.S, 64)
		res.Err = err != nil
		res.Out = strconv.FormatFloat(f, 'f', -1, 64)
	default:
		res.Err = true
		res.Out = "unknown op " + req.Op
	}
	return res
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			fmt.Fprintln(os.Stderr, "bad request:", err)
			os.Exit(2)
		}
		b, err := json.Marshal(handle(req))
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad response:", err)
			os.Exit(2)
		}
		out.Write(b)
		out.WriteByte('\n')
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "read:", err)
		os.Exit(2)
	}
}
