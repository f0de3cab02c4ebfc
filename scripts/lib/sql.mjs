// Splits a D1 migration file into single statements for D1's prepare()/batch(), which take one
// statement each. Splits on `;` outside string literals, quoted identifiers and comments, and keeps
// CREATE TRIGGER ... BEGIN ...; ...; END; together. Comments are dropped; empty chunks are skipped.
export function splitSqlStatements(sql) {
  const s = String(sql);
  const out = [];
  let cur = '';
  let i = 0;
  let depth = 0; // BEGIN/CASE ... END nesting, only tracked inside CREATE TRIGGER
  const isTrigger = () => /^\s*CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?TRIGGER\b/i.test(cur);
  const flush = () => {
    const stmt = cur.trim();
    if (stmt) out.push(stmt);
    cur = '';
    depth = 0;
  };
  while (i < s.length) {
    const c = s[i];
    if (c === '-' && s[i + 1] === '-') { // line comment
      while (i < s.length && s[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && s[i + 1] === '*') { // block comment
      const end = s.indexOf('*/', i + 2);
      i = end < 0 ? s.length : end + 2;
      cur += ' ';
      continue;
    }
    if (c === "'" || c === '"' || c === '`' || c === '[') { // literal or quoted identifier
      const close = c === '[' ? ']' : c;
      let j = i + 1;
      for (;;) {
        if (j >= s.length) break;
        if (s[j] === close) {
          if (close !== ']' && s[j + 1] === close) { j += 2; continue; } // doubled quote escape
          break;
        }
        j++;
      }
      cur += s.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(c) && !/[\w$]/.test(s[i - 1] ?? '')) { // a word: watch BEGIN/CASE/END in triggers
      const m = /^[A-Za-z_][\w$]*/.exec(s.slice(i, i + 64));
      const word = m[0].toUpperCase();
      if (isTrigger()) {
        if (word === 'BEGIN' || word === 'CASE') depth++;
        else if (word === 'END' && depth > 0) depth--;
      }
      cur += m[0];
      i += m[0].length;
      continue;
    }
    if (c === ';' && depth === 0) {
      flush();
      i++;
      continue;
    }
    cur += c;
    i++;
  }
  flush();
  return out;
}
