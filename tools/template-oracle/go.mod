// The template oracle's dependencies, pinned at what External Secrets Operator v2.9.0
// builds its template engine with: runtime/template/v2/sprig is a copy of Sprig v3 at
// the pseudo-version below (its README says so), and runtime/go.mod pins the libraries
// that copy uses. Minimum version selection keeps ESO's versions because each is at
// least what Sprig asks for.
module esox.dev/tools/template-oracle

go 1.26

require (
	github.com/Masterminds/sprig/v3 v3.3.1-0.20241028115027-8cb06fe3c8b0
	sigs.k8s.io/yaml v1.6.0
)

require (
	dario.cat/mergo v1.0.2 // indirect
	github.com/Masterminds/goutils v1.1.1 // indirect
	github.com/Masterminds/semver/v3 v3.4.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/huandu/xstrings v1.5.0 // indirect
	github.com/mitchellh/copystructure v1.2.0 // indirect
	github.com/mitchellh/reflectwalk v1.0.2 // indirect
	github.com/shopspring/decimal v1.4.0 // indirect
	github.com/spf13/cast v1.10.0 // indirect
	go.yaml.in/yaml/v2 v2.4.4 // indirect
	golang.org/x/crypto v0.53.0 // indirect
)
