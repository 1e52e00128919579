// Package dashboards holds the report definitions: one YAML file per report section,
// naming its title, the SQL it reads from the model tables, the chart and the
// workbook sheet. Adding a section is adding a file; pipeline/report reads them.
package dashboards

import "embed"

// FS holds every section definition, by file name.
//
//go:embed *.yaml
var FS embed.FS
