package main

// Reference implementations of ESO's own template functions, written from
// their documented definitions (eso-behaviour.md 8.4) with the Go standard
// library, for the esox-template differential tests.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"strings"
	"text/template"

	"sigs.k8s.io/yaml"
)

func esoFuncs() template.FuncMap {
	return template.FuncMap{
		"toYaml":           refToYAML,
		"fromYaml":         refFromYAML,
		"filterPEM":        refFilterPEM,
		"certSANs":         refCertSANs,
		"jwkPublicKeyPem":  refJwkPublicKeyPem,
		"jwkPrivateKeyPem": refJwkPrivateKeyPem,
		"rsaDecrypt":       refRsaDecrypt,
		"filterCertChain":  refFilterCertChain,
		"hexdec":           refHexdec,
	}
}

// refHexdec follows ESO's hexdec, which its Sprig copy adds: the decoded bytes, or the
// decoder's error text as the output when the input is not hexadecimal.
func refHexdec(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func refToYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func refFromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func refFilterPEM(pemType, input string) (string, error) {
	if i := strings.Index(input, "-----BEGIN"); i >= 0 {
		input = input[i:]
	}
	data := []byte(input)
	var out []byte
	var rest []byte
	for {
		var block *pem.Block
		block, rest = pem.Decode(data)
		data = rest
		if block == nil {
			break
		}
		if !strings.EqualFold(block.Type, pemType) {
			continue
		}
		out = append(out, pem.EncodeToMemory(block)...)
	}
	if len(out) == 0 && len(rest) != 0 {
		return "", errors.New("error filtering pem: found junk")
	}
	return string(out), nil
}

func refCertSANs(input string) ([]string, error) {
	if i := strings.Index(input, "-----BEGIN"); i >= 0 {
		input = input[i:]
	}
	block, _ := pem.Decode([]byte(input))
	if block == nil {
		return nil, errors.New("failed to decode PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	sans := []string{}
	sans = append(sans, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		sans = append(sans, ip.String())
	}
	sans = append(sans, cert.EmailAddresses...)
	for _, u := range cert.URIs {
		sans = append(sans, u.String())
	}
	return sans, nil
}

func b64url(m map[string]interface{}, k string) ([]byte, error) {
	s, ok := m[k].(string)
	if !ok {
		return nil, fmt.Errorf("missing %s", k)
	}
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func bigOf(m map[string]interface{}, k string) (*big.Int, error) {
	b, err := b64url(m, k)
	if err != nil {
		return nil, err
	}
	return new(big.Int).SetBytes(b), nil
}

func curveOf(name string) (elliptic.Curve, error) {
	switch name {
	case "P-256":
		return elliptic.P256(), nil
	case "P-384":
		return elliptic.P384(), nil
	case "P-521":
		return elliptic.P521(), nil
	}
	return nil, fmt.Errorf("unsupported curve %q", name)
}

func jwkKeys(js string) (pub interface{}, priv interface{}, err error) {
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		return nil, nil, err
	}
	switch m["kty"] {
	case "RSA":
		n, err := bigOf(m, "n")
		if err != nil {
			return nil, nil, err
		}
		e, err := bigOf(m, "e")
		if err != nil {
			return nil, nil, err
		}
		pk := rsa.PublicKey{N: n, E: int(e.Int64())}
		if _, ok := m["d"]; !ok {
			return &pk, nil, nil
		}
		d, err := bigOf(m, "d")
		if err != nil {
			return nil, nil, err
		}
		p, err := bigOf(m, "p")
		if err != nil {
			return nil, nil, err
		}
		q, err := bigOf(m, "q")
		if err != nil {
			return nil, nil, err
		}
		k := &rsa.PrivateKey{PublicKey: pk, D: d, Primes: []*big.Int{p, q}}
		k.Precompute()
		return &pk, k, nil
	case "EC":
		crv, _ := m["crv"].(string)
		c, err := curveOf(crv)
		if err != nil {
			return nil, nil, err
		}
		x, err := bigOf(m, "x")
		if err != nil {
			return nil, nil, err
		}
		y, err := bigOf(m, "y")
		if err != nil {
			return nil, nil, err
		}
		pk := ecdsa.PublicKey{Curve: c, X: x, Y: y}
		if _, ok := m["d"]; !ok {
			return &pk, nil, nil
		}
		d, err := bigOf(m, "d")
		if err != nil {
			return nil, nil, err
		}
		return &pk, &ecdsa.PrivateKey{PublicKey: pk, D: d}, nil
	case "OKP":
		if m["crv"] != "Ed25519" {
			return nil, nil, errors.New("unsupported OKP curve")
		}
		x, err := b64url(m, "x")
		if err != nil {
			return nil, nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, nil, errors.New("bad Ed25519 public key")
		}
		pk := ed25519.PublicKey(x)
		if _, ok := m["d"]; !ok {
			return pk, nil, nil
		}
		d, err := b64url(m, "d")
		if err != nil {
			return nil, nil, err
		}
		if len(d) != ed25519.SeedSize {
			return nil, nil, errors.New("bad Ed25519 private key")
		}
		return pk, ed25519.NewKeyFromSeed(d), nil
	}
	return nil, nil, errors.New("unsupported kty")
}

func refJwkPublicKeyPem(js string) (string, error) {
	pub, _, err := jwkKeys(js)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

func refJwkPrivateKeyPem(js string) (string, error) {
	_, priv, err := jwkKeys(js)
	if err != nil {
		return "", err
	}
	if priv == nil {
		return "", errors.New("not a private key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

func refParsePrivateKey(der []byte) (interface{}, error) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("unable to parse private key type")
}

func refRsaDecrypt(scheme, hashName, in, privateKey string) (string, error) {
	switch scheme {
	case "None":
		return in, nil
	case "RSA-OAEP":
		block, _ := pem.Decode([]byte(privateKey))
		if block == nil {
			return "", errors.New("failed to decode PEM block")
		}
		k, err := refParsePrivateKey(block.Bytes)
		if err != nil {
			return "", err
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return "", errors.New("could not parse RSA private key")
		}
		var h hash.Hash
		switch hashName {
		case "SHA1":
			h = crypto.SHA1.New()
		case "SHA512":
			h = sha512.New()
		default:
			h = sha256.New()
		}
		out, err := rsa.DecryptOAEP(h, nil, rk, []byte(in), nil)
		if err != nil {
			return "", err
		}
		return string(out), nil
	}
	return "", fmt.Errorf("decryption scheme %v is not supported", scheme)
}

type chainNode struct {
	cert     *x509.Certificate
	parent   *chainNode
	isParent bool
}

// refOrderChain orders certificates leaf -> intermediates -> root by
// AuthorityKeyId/SubjectKeyId, as ESO documents for filterCertChain.
func refOrderChain(data []byte) ([]*x509.Certificate, error) {
	var nodes []*chainNode
	for {
		block, rest := pem.Decode(data)
		data = rest
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, &chainNode{cert: c})
	}
	for i := range nodes {
		for j := range nodes {
			if i != j && bytes.Equal(nodes[i].cert.AuthorityKeyId, nodes[j].cert.SubjectKeyId) {
				nodes[j].isParent = true
				nodes[i].parent = nodes[j]
				break
			}
		}
	}
	var leaf *chainNode
	for _, n := range nodes {
		if !n.isParent {
			if leaf != nil {
				return nil, errors.New("found multiple leaf or disjunct certificates")
			}
			leaf = n
		}
	}
	if leaf == nil {
		return nil, errors.New("no leaf certificate found")
	}
	var out []*x509.Certificate
	for n := leaf; n != nil; n = n.parent {
		out = append(out, n.cert)
		if len(out) > len(nodes) {
			return nil, errors.New("constructing chain resulted in cycle")
		}
	}
	return out, nil
}

func refIsRoot(c *x509.Certificate) bool {
	return c.AuthorityKeyId == nil || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId)
}

func refPemCert(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

func refFilterCertChain(kind, input string) (string, error) {
	ordered, err := refOrderChain([]byte(input))
	if err != nil {
		return "", err
	}
	switch kind {
	case "leaf":
		c := ordered[0]
		if c.AuthorityKeyId != nil && !bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
			return refPemCert(c), nil
		}
	case "intermediate":
		out := ""
		for _, c := range ordered[1:] {
			if refIsRoot(c) {
				break
			}
			out += refPemCert(c)
		}
		return out, nil
	case "root":
		c := ordered[len(ordered)-1]
		if refIsRoot(c) {
			return refPemCert(c), nil
		}
	}
	return "", nil
}
