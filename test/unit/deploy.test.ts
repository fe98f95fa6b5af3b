/**
 * The shipped deployment files, checked without a cluster (no image can be built and no
 * Kubernetes reached here; the Slurm path runs for real in test/cluster/slurm.test.ts):
 *
 * - deploy/kubernetes/*.yaml parse as an Indexed Job whose shard count agrees with --shards, that
 *   passes JOB_COMPLETION_INDEX and writes to the results volume the merge Job reads; and the
 *   shell each container runs is run here, pod by pod, with the built command line in place of the
 *   image's: the shards it writes merge into a whole campaign.
 * - The Dockerfile installs with `npm ci` and runs the package's `nestsim` from the directory the
 *   manifests name.
 * - deploy/slurm/campaign.sbatch is valid shell and refuses bad arguments with exit 2.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CLI, ROOT } from '../helpers/cli.js';

const K8S = join(ROOT, 'deploy', 'kubernetes');
const tmp = mkdtempSync(join(tmpdir(), 'nestsim-deploy-'));

interface Container {
  image: string;
  command: string[];
  args: string[];
  env?: Array<{ name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  volumeMounts: Array<{ name: string; mountPath: string }>;
}
interface K8sDoc {
  kind: string;
  metadata: { name: string };
  spec: {
    completionMode?: string;
    completions?: number;
    parallelism?: number;
    template: { spec: { restartPolicy: string; containers: Container[]; volumes: Array<{ name: string; persistentVolumeClaim: { claimName: string } }> } };
  };
}

function docs(file: string): K8sDoc[] {
  const all = parseAllDocuments(readFileSync(join(K8S, file), 'utf8'));
  for (const d of all) expect(d.errors, `${file}: ${d.errors.join('; ')}`).toEqual([]);
  return all.map((d) => d.toJS() as K8sDoc);
}

/** The image's entry point, as the Dockerfile sets it. */
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const IMAGE_CLI = /ENTRYPOINT \["node", "([^"]+)"\]/.exec(dockerfile)?.[1] ?? '';

/** Run a container's shell as its pod would, with this checkout's command line for the image's and `results` for the volume. */
function runPod(c: Container, results: string, env: Record<string, string>, shrink: (s: string) => string): { status: number | null; stderr: string } {
  expect(c.command).toEqual(['sh', '-c']);
  const mount = c.volumeMounts[0].mountPath;
  const script = shrink(c.args[0]).replaceAll(`node ${IMAGE_CLI}`, `${process.execPath} ${CLI}`).replaceAll(mount, results);
  const r = spawnSync('sh', ['-c', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('the Kubernetes Indexed Job and its merge', () => {
  const [pvc, job] = docs('indexed-job.yaml');
  const [merge] = docs('merge-job.yaml');
  const shard = job.spec.template.spec.containers[0];
  const merger = merge.spec.template.spec.containers[0];

  it('an Indexed Job: --shards agrees with completions, the index is passed, outputs go to the volume the merge reads', () => {
    expect(pvc.kind).toBe('PersistentVolumeClaim');
    expect(job.kind).toBe('Job');
    expect(job.spec.completionMode).toBe('Indexed');
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    const shards = Number(/--shards (\d+)/.exec(shard.args[0])?.[1]);
    expect(shards).toBe(job.spec.completions);
    expect(shard.env).toContainEqual({ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } });
    expect(shard.args[0]).toContain(`stress configs/`);
    expect(shard.args[0]).toMatch(/--iterations \d+/);
    expect(shard.args[0]).toContain('--json "/results/shards/shard-$JOB_COMPLETION_INDEX.json"');
    expect(merger.args[0]).toContain('merge /results/shards --json /results/merged.json');
    for (const d of [job, merge]) {
      expect(d.spec.template.spec.volumes[0].persistentVolumeClaim.claimName).toBe(pvc.metadata.name);
      expect(d.spec.template.spec.containers[0].volumeMounts[0]).toEqual({ name: d.spec.template.spec.volumes[0].name, mountPath: '/results' });
    }
    expect(merger.image).toBe(shard.image);
  });

  it("each pod's shell, run here pod by pod: the shards (one violating) merge into the whole campaign", () => {
    const results = join(tmp, 'volume');
    const small = (s: string) => s.replace(/--iterations \d+/, '--iterations 8 --set accesses=300 --mutation skip-tlb-flush --no-fail-fast');
    for (let i = 0; i < job.spec.completions!; i++) {
      const r = runPod(shard, results, { JOB_COMPLETION_INDEX: String(i) }, small);
      // A violating round is a finished shard: exit 0, so Kubernetes does not run it again.
      expect(r.status, r.stderr).toBe(0);
    }
    expect(readdirSync(join(results, 'shards')).length).toBe(job.spec.completions);
    const m = runPod(merger, results, {}, (s) => s);
    expect(m.status, m.stderr).toBe(0);
    const merged = JSON.parse(readFileSync(join(results, 'merged.json'), 'utf8'));
    expect(merged.shard).toEqual({ count: job.spec.completions, merged: [0, 1, 2, 3], missing: [] });
    expect(merged.stress.rounds).toBe(8);
    expect(merged.stress.violatingRounds).toBeGreaterThan(0);
  }, 180_000);
});

describe('the Dockerfile', () => {
  it('installs with npm ci, builds, and runs the package bin from the directory the manifests use', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: { nestsim: string }; engines: { node: string } };
    expect(dockerfile).toMatch(/^FROM node:20[\w.-]*$/m);
    expect(dockerfile).toMatch(/^RUN npm ci\b/m);
    expect(dockerfile).toMatch(/^RUN npm run build\b/m);
    const workdir = /^WORKDIR (\S+)$/m.exec(dockerfile)?.[1];
    expect(IMAGE_CLI).toBe(`${workdir}/${pkg.bin.nestsim}`);
    expect(readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n')).toEqual(expect.arrayContaining(['node_modules', 'dist']));
  });
});

describe('deploy/slurm/campaign.sbatch outside Slurm', () => {
  const SBATCH = join(ROOT, 'deploy', 'slurm', 'campaign.sbatch');
  const run = (...args: string[]) => spawnSync(SBATCH, args, { encoding: 'utf8', env: { ...process.env, SLURM_JOB_ID: '' } });
  it('is valid shell with #SBATCH directives', () => {
    expect(spawnSync('bash', ['-n', SBATCH]).status).toBe(0);
    expect(readFileSync(SBATCH, 'utf8')).toMatch(/^#SBATCH --job-name=/m);
  });
  it('bad arguments: exit 2 saying what was expected', () => {
    const none = run();
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('usage:');
    const bad = run('four', join(tmp, 'c'), 'stress', 'configs/stress.yaml');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('SHARDS: expected a whole number >= 1, found "four"');
    const cmd = run('2', join(tmp, 'c'), 'run', 'configs/stress.yaml');
    expect(cmd.status).toBe(2);
    expect(cmd.stderr).toContain('expected the command stress or sweep after OUTDIR, found "run"');
  });
});
