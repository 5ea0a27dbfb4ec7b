// The client's version, sent in its User-Agent (valori-node-client/<version>). Kept equal to
// package.json's version by __test__/client-options.test.ts.
export const CLIENT_VERSION = '0.1.0';
