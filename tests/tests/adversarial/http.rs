//! Connections, bodies, failed authentication, header trust and the OpenAPI document.
