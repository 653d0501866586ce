// One URL of every page type of a built site, found in the build output itself, so a page type that
// disappears (or a new one nobody tests) fails loudly instead of silently shrinking the coverage.
// Shared by layout.test.mjs, screenshots.test.mjs and bench/lighthouse.mjs.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** The page types in the order they are tested: name, how its path looks, and whether the build
 * must have one. `optional` types are checked when the build has them (an event only exists while
 * one is announced; topic pages only once the topics taxonomy has landed). */
export const PAGE_TYPES = [
  { type: 'home', test: (p) => p === '/' },
  { type: 'aktuelles-liste', test: (p) => p === '/aktuelles/' },
  // Any list's further pages (/aktuelles/seite/2/, /themen/<slug>/seite/2/) share one layout.
  { type: 'liste-seite-2', test: (p) => /^\/(?:[^/]+\/)+seite\/\d+\/$/.test(p) },
  { type: 'nachricht', test: (p) => /^\/aktuelles\/[^/]+\/$/.test(p) },
  { type: 'sprechstunden-liste', test: (p) => p === '/sprechstunden/' },
  { type: 'sprechstunde', test: (p) => /^\/sprechstunden\/[^/]+\/$/.test(p) },
  { type: 'projekte-liste', test: (p) => p === '/projekte/' },
  { type: 'projekt-gdst', test: (p) => p === '/projekte/gdst/' },
  { type: 'projekt', test: (p) => /^\/projekte\/[^/]+\/$/.test(p) },
  { type: 'termine-liste', test: (p) => p === '/termine/' },
  { type: 'termin', test: (p) => /^\/termine\/[^/]+\/$/.test(p), optional: true },
  { type: 'adventskalender-uebersicht', test: (p) => p === '/adventskalender/' },
  { type: 'adventskalender', test: (p) => /^\/adventskalender\/\d{4}\/$/.test(p) },
  { type: 'adventstuer', test: (p) => /^\/adventskalender\/\d{4}\/\d{1,2}\/$/.test(p) },
  { type: 'newsletter-archiv', test: (p) => p === '/newsletter/' },
  { type: 'newsletter', test: (p) => /^\/newsletter\/\d+\/$/.test(p) },
  { type: 'themen', test: (p) => p === '/themen/' },
  { type: 'thema', test: (p) => /^\/themen\/[^/]+\/$/.test(p) },
  { type: 'impressum', test: (p) => p === '/impressum/' },
  { type: 'datenschutz', test: (p) => p === '/datenschutz/' },
  { type: 'barrierefreiheit', test: (p) => p === '/barrierefreiheit/' },
  { type: 'barriere-melden', test: (p) => p === '/barriere-melden/' },
  { type: 'suche', test: (p) => p === '/suche/' },
  { type: 'seitenuebersicht', test: (p) => p === '/seitenuebersicht/' },
  { type: 'nicht-gefunden', test: (p) => p === '/gibt-es-nicht/' },
  // Kontakt, Leichte Sprache, Gebärdensprache: plain pages at the top level.
  { type: 'seite', test: (p) => /^\/[^/]+\/$/.test(p) },
];

/** Every page of a build as a path (`/x/y/`), redirect stubs left out (they are not pages). */
export function builtPages(dir) {
  const pages = [];
  const walk = (folder) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const full = join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === 'index.html' && !/<meta http-equiv="refresh"/i.test(readFileSync(full, 'utf8'))) {
        const rel = relative(dir, folder).split(sep).join('/');
        pages.push(rel === '' ? '/' : `/${rel}/`);
      }
    }
  };
  walk(dir);
  // A path that matches no file serves 404.html, which is a page type of its own.
  if (existsSync(join(dir, '404.html'))) pages.push('/gibt-es-nicht/');
  return pages.sort();
}

/** The type of a path: the first entry of PAGE_TYPES that matches, or undefined. */
export const pageType = (path) => PAGE_TYPES.find((t) => t.test(path))?.type;

/** The first topic page linked from /themen/ (the contract: that is the one to test), or undefined. */
function firstTopicLink(dir) {
  const file = join(dir, 'themen/index.html');
  if (!existsSync(file)) return undefined;
  const main = /<main[\s\S]*<\/main>/.exec(readFileSync(file, 'utf8'))?.[0] ?? '';
  return /href="(?:https?:\/\/[^"/]+)?(\/themen\/[^"/]+\/)"/.exec(main)?.[1];
}

/**
 * One URL per page type over the given builds (`{ name: dir }`, searched in order): a list of
 * `{ type, path, build }`. Throws, naming what is wrong, when a required type has no page or a page
 * fits no type (add it to PAGE_TYPES, so it is tested).
 */
export function discoverPageTypes(builds) {
  const found = new Map();
  const unknown = [];
  let topicChosen = false;
  for (const [build, dir] of Object.entries(builds)) {
    for (const path of builtPages(dir)) {
      const type = pageType(path);
      if (!type) unknown.push(`${path} (${build})`);
      else if (!found.has(type)) found.set(type, { type, path, build });
    }
    // The contract says: the topic page to test is the first one /themen/ links to (not the first
    // folder in sort order), from the first build that has topics.
    const topic = firstTopicLink(dir);
    if (topic && !topicChosen) {
      found.set('thema', { type: 'thema', path: topic, build });
      topicChosen = true;
    }
  }
  const problems = [];
  for (const { type, optional } of PAGE_TYPES) {
    if (!optional && !found.has(type)) problems.push(`no page of type "${type}" in the build (expected by tests/browser/pages.mjs)`);
  }
  if (found.has('themen') && !found.has('thema')) problems.push('/themen/ links to no topic page (/themen/<slug>/)');
  for (const u of unknown) problems.push(`page ${u} fits no type in PAGE_TYPES of tests/browser/pages.mjs: add its type so it is tested`);
  if (problems.length) throw new Error(problems.join('\n'));
  return PAGE_TYPES.filter((t) => found.has(t.type)).map((t) => found.get(t.type));
}
