// The jsonpath oracle's dependencies, pinned at the versions External Secrets Operator v2.9.0's
// webhook provider builds with (providers/v1/webhook/go.mod).
module esox.dev/tools/jsonpath-oracle

go 1.26

require github.com/PaesslerAG/jsonpath v0.1.1

require (
	github.com/PaesslerAG/gval v1.2.4 // indirect
	github.com/shopspring/decimal v1.3.1 // indirect
)
