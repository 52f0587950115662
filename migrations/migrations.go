// Package migrations holds Latch's database schema as goose SQL migrations,
// one directory per dialect: sqlite/ and postgres/. Files are numbered
// NNNNN_name.sql and contain "-- +goose Up" and "-- +goose Down" sections.
// store.DB.Migrate applies them with a goose Provider over fs.Sub(FS, dialect).
//
// The two directories must keep the same version numbers and the same
// meaning; only the SQL types differ.
package migrations

import "embed"

// FS holds the migration files under sqlite/ and postgres/.
//
//go:embed sqlite/*.sql postgres/*.sql
var FS embed.FS
