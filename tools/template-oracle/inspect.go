package main

// The --inspect mode: reads one JSON request per line, {"cert": PEM, "key": PEM, "ca": PEM},
// and prints what Go's crypto/x509 sees in them as JSON, so that the differential tests can
// compare the structure of esox's random keys and certificates with Go's own (their bytes
// differ at every run). Fields that are random by design (serial, key material, exact times)
// are reduced to checks: serial within Sprig's 128 bits, notBefore within five minutes of now.

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

type inspectRequest struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
	CA   string `json:"ca"`
}

func keyInfo(pub crypto.PublicKey) map[string]interface{} {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]interface{}{"alg": "RSA", "bits": k.N.BitLen(), "e": k.E}
	case *ecdsa.PublicKey:
		return map[string]interface{}{"alg": "ECDSA", "curve": k.Curve.Params().Name}
	case ed25519.PublicKey:
		return map[string]interface{}{"alg": "Ed25519", "bits": len(k) * 8}
	default:
		return map[string]interface{}{"alg": fmt.Sprintf("%T", pub)}
	}
}

func inspectKey(text string) map[string]interface{} {
	out := map[string]interface{}{}
	block, rest := pem.Decode([]byte(text))
	if block == nil {
		out["error"] = "no PEM block"
		return out
	}
	out["pem_type"] = block.Type
	out["trailing"] = len(bytes.TrimSpace(rest))
	var priv interface{}
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		priv, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		err = fmt.Errorf("unexpected type")
	}
	if err != nil {
		out["error"] = err.Error()
		return out
	}
	if k, ok := priv.(*rsa.PrivateKey); ok {
		if err := k.Validate(); err != nil {
			out["error"] = "invalid RSA key: " + err.Error()
		}
	}
	if s, ok := priv.(crypto.Signer); ok {
		out["key"] = keyInfo(s.Public())
		out["public"] = s.Public()
	}
	return out
}

func inspectCert(req inspectRequest) map[string]interface{} {
	out := map[string]interface{}{}
	block, rest := pem.Decode([]byte(req.Cert))
	if block == nil || block.Type != "CERTIFICATE" {
		out["error"] = "no CERTIFICATE block"
		return out
	}
	out["trailing"] = len(bytes.TrimSpace(rest))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		out["error"] = err.Error()
		return out
	}
	out["version"] = cert.Version
	out["serial_ok"] = cert.SerialNumber.Sign() > 0 && cert.SerialNumber.BitLen() <= 128
	out["signature_algorithm"] = cert.SignatureAlgorithm.String()
	out["public_key"] = keyInfo(cert.PublicKey)
	out["subject"] = cert.Subject.String()
	out["issuer"] = cert.Issuer.String()
	out["self_issued"] = bytes.Equal(cert.RawSubject, cert.RawIssuer)
	out["is_ca"] = cert.IsCA
	out["basic_constraints_valid"] = cert.BasicConstraintsValid
	out["max_path_len"] = cert.MaxPathLen
	out["key_usage"] = int(cert.KeyUsage)
	out["ext_key_usage"] = cert.ExtKeyUsage
	out["dns_names"] = cert.DNSNames
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	out["ip_addresses"] = ips
	out["validity_seconds"] = int64(cert.NotAfter.Sub(cert.NotBefore) / time.Second)
	age := time.Since(cert.NotBefore)
	out["not_before_is_now"] = age > -5*time.Minute && age < 5*time.Minute
	out["subject_key_id_len"] = len(cert.SubjectKeyId)
	out["authority_key_id_len"] = len(cert.AuthorityKeyId)
	var exts []string
	for _, e := range cert.Extensions {
		exts = append(exts, fmt.Sprintf("%s critical=%v", e.Id, e.Critical))
	}
	out["extensions"] = exts
	if req.Key != "" {
		k := inspectKey(req.Key)
		if pub, ok := k["public"].(interface{ Equal(crypto.PublicKey) bool }); ok {
			out["key_matches_certificate"] = pub.Equal(cert.PublicKey)
		}
		delete(k, "public")
		out["private_key"] = k
	}
	// The chain: against the CA when there is one, else against the certificate itself.
	roots := x509.NewCertPool()
	var parent *x509.Certificate
	if req.CA != "" {
		cb, _ := pem.Decode([]byte(req.CA))
		if cb == nil {
			out["verify"] = "no CA block"
			return out
		}
		parent, err = x509.ParseCertificate(cb.Bytes)
		if err != nil {
			out["verify"] = "CA: " + err.Error()
			return out
		}
		out["authority_key_id_matches_ca"] = bytes.Equal(cert.AuthorityKeyId, parent.SubjectKeyId)
	} else {
		parent = cert
	}
	roots.AddCert(parent)
	if err := cert.CheckSignatureFrom(parent); err != nil {
		// CheckSignatureFrom needs a CA parent; a self-signed leaf is checked on its own.
		if err2 := parent.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err2 != nil {
			out["signature"] = err2.Error()
		} else {
			out["signature"] = "ok"
		}
	} else {
		out["signature"] = "ok"
	}
	_, err = cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: cert.NotBefore.Add(time.Second),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		out["verify"] = fmt.Sprintf("%T", err)
	} else {
		out["verify"] = "ok"
	}
	return out
}

func inspectMain() {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var req inspectRequest
			var resp map[string]interface{}
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				resp = map[string]interface{}{"error": "bad request: " + jerr.Error()}
			} else if req.Cert == "" {
				resp = inspectKey(req.Key)
				delete(resp, "public")
			} else {
				resp = inspectCert(req)
			}
			_ = enc.Encode(resp)
			_ = out.Flush()
		}
		if err != nil {
			return
		}
	}
}
