// Command template-oracle renders Go text/template templates with the Sprig
// function subset that External Secrets Operator exposes (env, expandenv and
// getHostByName removed) and missingkey=error. It is the reference the
// esox-template differential tests compare against.
//
// Protocol: one JSON request per stdin line
//
//	{"name": "...", "tpl": "...", "data": {"k": "v"}, "ldelim": "", "rdelim": ""}
//
// one JSON response per stdout line
//
//	{"ok": true, "out_b64": "..."} or {"ok": false, "err": "..."}
//
// The output is base64 so that non-UTF-8 bytes survive the JSON round trip.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

// The oracle also carries reference versions of some of ESO's own functions
// (eso.go), written from their definitions with Go's standard library and
// sigs.k8s.io/yaml, the library ESO uses.

// esoSprig is the function list of ESO's vendored Sprig (eso-behaviour.md 8.4).
var esoSprig = []string{
	"ago", "date", "date_in_zone", "date_modify", "dateInZone", "dateModify", "duration", "durationRound", "htmlDate",
	"htmlDateInZone", "must_date_modify", "mustDateModify", "mustToDate", "now", "toDate", "unixEpoch",
	"abbrev", "abbrevboth", "trunc", "trim", "upper", "lower", "title", "untitle", "substr", "repeat", "trimall",
	"trimAll", "trimSuffix", "trimPrefix", "nospace", "initials", "randAlphaNum", "randAlpha", "randAscii",
	"randNumeric", "swapcase", "shuffle", "snakecase", "camelcase", "kebabcase", "wrap", "wrapWith", "contains",
	"hasPrefix", "hasSuffix", "quote", "squote", "cat", "indent", "nindent", "replace", "plural", "sha1sum",
	"sha256sum", "sha512sum", "adler32sum", "toString",
	"atoi", "int64", "int", "float64", "seq", "toDecimal", "split", "splitList", "splitn", "toStrings", "until",
	"untilStep", "add1", "add", "sub", "div", "mod", "mul", "randInt", "add1f", "addf", "subf", "divf", "mulf",
	"biggest", "max", "min", "maxf", "minf", "ceil", "floor", "round",
	"join", "sortAlpha", "default", "empty", "coalesce", "all", "any", "compact", "mustCompact", "ternary",
	"deepCopy", "mustDeepCopy", "tuple", "list", "dict", "get", "set", "unset", "hasKey", "pluck", "keys", "pick",
	"omit", "merge", "mergeOverwrite", "mustMerge", "mustMergeOverwrite", "values", "append", "push", "mustAppend",
	"mustPush", "prepend", "mustPrepend", "first", "mustFirst", "rest", "mustRest", "last", "mustLast", "initial",
	"mustInitial", "reverse", "mustReverse", "uniq", "mustUniq", "without", "mustWithout", "has", "mustHas",
	"slice", "mustSlice", "concat", "dig", "chunk", "mustChunk",
	"fromJson", "toJson", "toPrettyJson", "toRawJson", "mustFromJson", "mustToJson", "mustToPrettyJson",
	"mustToRawJson",
	"typeOf", "typeIs", "typeIsLike", "kindOf", "kindIs", "deepEqual",
	"base", "dir", "clean", "ext", "isAbs", "osBase", "osClean", "osDir", "osExt", "osIsAbs",
	"b64enc", "b64dec", "b32enc", "b32dec", "hexdec",
	"bcrypt", "htpasswd", "genPrivateKey", "derivePassword", "buildCustomCert", "genCA", "genCAWithKey",
	"genSelfSignedCert", "genSelfSignedCertWithKey", "genSignedCert", "genSignedCertWithKey", "encryptAES",
	"decryptAES", "randBytes", "uuidv4",
	"semver", "semverCompare", "fail", "hello",
	"regexMatch", "mustRegexMatch", "regexFindAll", "mustRegexFindAll", "regexFind", "mustRegexFind",
	"regexReplaceAll", "mustRegexReplaceAll", "regexReplaceAllLiteral", "mustRegexReplaceAllLiteral",
	"regexSplit", "mustRegexSplit", "regexQuoteMeta",
	"urlParse", "urlJoin",
}

func funcMap() template.FuncMap {
	all := sprig.TxtFuncMap()
	fm := template.FuncMap{}
	for _, name := range esoSprig {
		if f, ok := all[name]; ok {
			fm[name] = f
		}
	}
	for name, f := range esoFuncs() {
		fm[name] = f
	}
	return fm
}

type request struct {
	Name   string            `json:"name"`
	Tpl    string            `json:"tpl"`
	Data   map[string]string `json:"data"`
	Ldelim string            `json:"ldelim"`
	Rdelim string            `json:"rdelim"`
}

type response struct {
	Ok     bool   `json:"ok"`
	OutB64 string `json:"out_b64,omitempty"`
	Err    string `json:"err,omitempty"`
}

func render(req request, fm template.FuncMap) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	name := req.Name
	if name == "" {
		name = "tpl"
	}
	t := template.New(name).Option("missingkey=error").Funcs(fm)
	if req.Ldelim != "" || req.Rdelim != "" {
		t = t.Delims(req.Ldelim, req.Rdelim)
	}
	t, err = t.Parse(req.Tpl)
	if err != nil {
		return nil, err
	}
	data := req.Data
	if data == nil {
		data = map[string]string{}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--inspect" {
		inspectMain()
		return
	}
	fm := funcMap()
	if len(os.Args) > 1 && os.Args[1] == "--list-functions" {
		for _, name := range esoSprig {
			if _, ok := fm[name]; !ok {
				fmt.Printf("missing %s\n", name)
			}
		}
		fmt.Println(len(fm))
		return
	}
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var req request
			var resp response
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				resp = response{Ok: false, Err: "bad request: " + jerr.Error()}
			} else if o, rerr := render(req, fm); rerr != nil {
				resp = response{Ok: false, Err: rerr.Error()}
			} else {
				resp = response{Ok: true, OutB64: base64.StdEncoding.EncodeToString(o)}
			}
			_ = enc.Encode(resp)
			_ = out.Flush()
		}
		if err != nil {
			return
		}
	}
}
