import { buildRing } from '../src/placement/index.js';
function member(i: number, zones: number) { return { id: `node-${String(i).padStart(4, '0')}`, address: `10.0.${(i >> 8) & 0xff}.${i & 0xff}:9100`, zone: `zone-${String(i % zones).padStart(2, '0')}`, weight: 1 }; }
const cpu = () => { const { user, system } = process.cpuUsage(); return (user + system) / 1000; };
const t0 = cpu();
const ring = buildRing(null, Array.from({ length: 10000 }, (_, i) => member(i, 100)), { partitionBits: 20, replicas: Number(process.argv[2] ?? 6), seed: 1 } as any);
console.log('build ms', (cpu() - t0).toFixed(0), ring.table.length);
let h = 0; for (const row of ring.table) for (const id of row) { for (let i = 0; i < id.length; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) | 0; }
console.log('digest', h);
