// The core oracle's dependencies, pinned at the versions External Secrets
// Operator v2.9.0 builds with (its go.mod and providers/v1/kubernetes/go.mod).
module esox.dev/tools/core-oracle

go 1.26

require (
	github.com/robfig/cron/v3 v3.0.1
	github.com/tidwall/gjson v1.18.0
)

require (
	github.com/tidwall/match v1.2.0 // indirect
	github.com/tidwall/pretty v1.2.1 // indirect
)
