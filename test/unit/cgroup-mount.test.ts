import { test } from 'node:test';
import assert from 'node:assert/strict';
import { locateOwnCgroup, parseMountinfo } from '../../src/launch/cgroup-mount.js';

// Lines as the kernel writes them (proc(5)), from the layouts teamssh meets.
const HYBRID = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');
const SYSTEMD = [
  '24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw',
  '29 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot',
].join('\n');

test('hybrid layout: cgroup v2 is found beside the v1 controllers, at /sys/fs/cgroup/unified', () => {
  assert.deepEqual(locateOwnCgroup(HYBRID, '4:memory:/x\n0::/\n'), { ok: true, dir: '/sys/fs/cgroup/unified', mountPoint: '/sys/fs/cgroup/unified' });
});

test("systemd host: the service's own cgroup under /sys/fs/cgroup (optional fields before the dash)", () => {
  assert.deepEqual(locateOwnCgroup(SYSTEMD, '0::/system.slice/teamssh.service\n'), {
    ok: true,
    dir: '/sys/fs/cgroup/system.slice/teamssh.service',
    mountPoint: '/sys/fs/cgroup',
  });
});

test('a container that mounts only its own subtree: the path is taken relative to the mount root', () => {
  const info = '50 40 0:30 /docker/abc /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw';
  assert.deepEqual(locateOwnCgroup(info, '0::/docker/abc/inner\n'), { ok: true, dir: '/sys/fs/cgroup/inner', mountPoint: '/sys/fs/cgroup' });
  const outside = locateOwnCgroup(info, '0::/elsewhere\n');
  assert.equal(outside.ok, false);
});

test('no usable cgroup v2: none mounted, read-only, v1 only, or a removed cgroup, each with its reason', () => {
  const none = locateOwnCgroup(HYBRID.split('\n').slice(0, 2).join('\n'), '0::/\n');
  assert.deepEqual(none, { ok: false, reason: 'no cgroup2 filesystem is mounted' });
  const ro = locateOwnCgroup('29 24 0:26 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 ro', '0::/\n');
  assert.deepEqual(ro, { ok: false, reason: 'cgroup2 is mounted read-only' });
  assert.equal(locateOwnCgroup(SYSTEMD, '1:name=systemd:/\n').ok, false);
  assert.equal(locateOwnCgroup(SYSTEMD, '0::/gone (deleted)\n').ok, false);
});

test('mount points with spaces are unescaped', () => {
  const [m] = parseMountinfo('41 31 0:38 / /mnt/cg\\040two rw - cgroup2 cgroup2 rw');
  assert.equal(m?.mountPoint, '/mnt/cg two');
});
