import { containmentOverSsh } from '../support/containment-suite.js';

// The default: this machine has a writable cgroup v2, so every session gets a cgroup.
containmentOverSsh({ setting: 'auto', account: 'tsshcgssh', summary: 'session containment: cgroup' });
