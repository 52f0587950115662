package web

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of the JSON API for apps (/api/v1),
// served at GET /api/v1/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte
