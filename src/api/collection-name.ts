// The one definition of a valid collection name (the kernel enforces the same rule): 1-64
// letters, digits, "_" or "-", starting with a letter or digit. Dependency-free, so the route
// table, the request and key schemas, the key store and the client all take it from here.
export const COLLECTION_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';
export const COLLECTION_NAME = new RegExp(COLLECTION_NAME_PATTERN);
