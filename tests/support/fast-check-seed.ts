/**
 * Property tests in CI run from one seed (FC_SEED, else a fixed one): a CI run decides whether a
 * change lands, so it must not fail on a rare input no change of this commit made reachable. Off CI
 * every run draws a new seed and so keeps exploring; a failure prints its seed and path, which
 * FC_SEED (and fast-check's `path`) replays.
 */
import fc from 'fast-check';

const given = process.env.FC_SEED;
if (given !== undefined && !/^-?\d+$/.test(given)) throw new Error(`FC_SEED must be a whole number, not ${JSON.stringify(given)}`);
if (process.env.CI === 'true' || given !== undefined) fc.configureGlobal({ seed: given !== undefined ? Number(given) : 20261207 });
