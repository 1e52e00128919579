// Package profiles holds the built-in source profiles: one YAML file per export
// layout that is not the canonical one (pipeline/profile reads them). Their staging
// models, where a mapping is not enough, are in queries/staging/<profile>/.
package profiles

import "embed"

// FS holds the profile files, by name (ctn0094.yaml).
//
//go:embed *.yaml
var FS embed.FS
