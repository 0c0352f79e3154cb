import { containmentOverSsh } from '../support/containment-suite.js';

// Where no cgroup v2 is writable: the process scan, forced here. Its account is its own,
// since the scan ends every process of the account that no live session holds.
containmentOverSsh({ setting: 'process-scan', account: 'tsshscanssh', summary: 'session containment: process scan, weaker' });
