// Package queries holds the project's SQL: the schema of the ledger, vocabulary and
// core layers (schema/), and the staging models that map an export onto the core
// tables (staging/<profile>/<entity>.sql). The SQL files are the source of truth;
// Go reads them through FS and never pastes SQL of its own for these stages.
package queries

import "embed"

// FS holds every .sql file of this folder, by path relative to it.
//
//go:embed schema/*.sql staging/*.sql staging/*/*.sql models/*.sql
var FS embed.FS
