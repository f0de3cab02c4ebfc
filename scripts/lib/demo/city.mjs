// The demo city's streets: the graph of joburg.json, shortest routes on it, and a position that moves
// along a route at street speed (never a jump: every step follows the street's line).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const R = 6371008.8;
const rad = (d) => (d * Math.PI) / 180;

/** Great-circle distance in metres. */
export function distanceM(a, b) {
  const dLat = rad(b.lat - a.lat);
  const dLng = rad(b.lng - a.lng);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLng / 2) ** 2;
  return 2 * R * Math.asin(Math.sqrt(h));
}

export class City {
  constructor(path = join(dirname(fileURLToPath(import.meta.url)), 'joburg.json')) {
    const g = JSON.parse(readFileSync(path, 'utf8'));
    this.name = g.name;
    this.nodes = g.nodes.map(([lat, lng]) => ({ lat, lng }));
    this.names = g.names;
    this.adj = this.nodes.map(() => []);
    for (const [a, b] of g.edges) {
      const m = distanceM(this.nodes[a], this.nodes[b]);
      this.adj[a].push({ to: b, m });
      this.adj[b].push({ to: a, m });
    }
    const n = this.nodes.length;
    this.centre = {
      lat: this.nodes.reduce((s, p) => s + p.lat, 0) / n,
      lng: this.nodes.reduce((s, p) => s + p.lng, 0) / n,
    };
  }

  randomNode(rand = Math.random) {
    for (;;) {
      const i = Math.floor(rand() * this.nodes.length);
      if (this.adj[i].length) return i;
    }
  }

  /** The node nearest a position. */
  nearest(at) {
    let best = 0;
    let bestM = Infinity;
    this.nodes.forEach((p, i) => {
      const m = distanceM(p, at);
      if (m < bestM && this.adj[i].length) [best, bestM] = [i, m];
    });
    return best;
  }

  /** Dijkstra: the nodes from `from` to `to` (both included), or [from] when they are the same. */
  route(from, to) {
    const dist = new Map([[from, 0]]);
    const prev = new Map();
    const open = new Set([from]);
    while (open.size) {
      let u = null;
      for (const v of open) if (u === null || dist.get(v) < dist.get(u)) u = v;
      open.delete(u);
      if (u === to) break;
      for (const { to: v, m } of this.adj[u]) {
        const d = dist.get(u) + m;
        if (d < (dist.get(v) ?? Infinity)) {
          dist.set(v, d);
          prev.set(v, u);
          open.add(v);
        }
      }
    }
    const path = [to];
    while (path[0] !== from) {
      const p = prev.get(path[0]);
      if (p === undefined) return [from];
      path.unshift(p);
    }
    return path;
  }

  /** A wandering route: a few blocks on, never straight back the way it came. */
  wander(from, blocks, rand = Math.random) {
    const path = [from];
    for (let i = 0; i < blocks; i++) {
      const here = path[path.length - 1];
      const back = path[path.length - 2];
      const options = this.adj[here].filter((e) => e.to !== back);
      const pick = (options.length ? options : this.adj[here])[Math.floor(rand() * (options.length || this.adj[here].length))];
      path.push(pick.to);
    }
    return path;
  }

  address(node) {
    return this.names[node];
  }
}

/** A position moving along a route of nodes at `speedMs` metres per second. */
export class Mover {
  constructor(city, node) {
    this.city = city;
    this.node = node; // the last node passed
    this.at = { ...city.nodes[node] };
    this.path = [];
    this.heading = 0;
  }

  follow(path) {
    this.path = path[0] === this.node ? path.slice(1) : path;
  }

  get arrived() {
    return this.path.length === 0;
  }

  /** Moves `metres` along the route; returns true once the route's end is reached. */
  advance(metres) {
    while (metres > 0 && this.path.length) {
      const next = this.city.nodes[this.path[0]];
      const left = distanceM(this.at, next);
      this.heading = (Math.atan2(rad(next.lng - this.at.lng) * Math.cos(rad(this.at.lat)), rad(next.lat - this.at.lat)) * 180 / Math.PI + 360) % 360;
      if (left <= metres) {
        this.at = { ...next };
        this.node = this.path.shift();
        metres -= left;
      } else {
        const f = metres / left;
        this.at = { lat: this.at.lat + (next.lat - this.at.lat) * f, lng: this.at.lng + (next.lng - this.at.lng) * f };
        metres = 0;
      }
    }
    return this.path.length === 0;
  }
}
