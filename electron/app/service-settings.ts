/**
 * The service's settings, two forms of them: the RUNNING settings (the saved ones with the command
 * line's overrides applied: `serve --backend ufw`) and the SAVED ones (what the settings repo holds,
 * less the overrides). Loaded at the start, replaced by the API (a whole new settings object) and
 * loaded again from the repo (`systemctl reload`, SIGHUP). Invalid settings are refused with the
 * field and the reason, and change nothing. What a change means for the running parts (the engine,
 * the fleet, the whitelist, the windows) is the service's to carry out: `onChange`.
 */
import { ApiError, type BanBackendName } from '../shared/api.ts';
import { describeZodError, SettingsSchema, type Settings } from '../shared/settings.ts';
import { redactFleet, unredactFleet } from '../shared/fleet.ts';
import type { SettingsRepo } from './contracts.ts';
import { isPlainObject, loadSettings, savedFormOf } from './settings-load.ts';

export interface ServiceSettingsDeps {
  repo: SettingsRepo;
  /** Settings overrides from the command line (--backend, --source), applied over the saved ones. */
  overrides?: (s: Settings) => Settings;
  /** The running settings changed from `before` to `running` (not called by the start's load). */
  onChange(before: Settings, running: Settings): void;
}

export class ServiceSettings {
  private readonly d: ServiceSettingsDeps;
  running!: Settings;
  /** The settings as the repo holds them: `running` less the command line's overrides (savedFormOf). */
  private saved!: Settings;
  /**
   * The ban backend this run bans through: its settings' at the start, the same load the shells build
   * the firewall port from (`firewall`). A later change of `ban.backend` takes over at the next start.
   */
  backendInUse!: BanBackendName;

  constructor(deps: ServiceSettingsDeps) {
    this.d = deps;
  }

  /** The start's load: throws, with the reason, when the saved settings (or the overrides) are invalid. */
  load(): void {
    const loaded = loadSettings(this.d.repo, this.d.overrides);
    if (!loaded.ok) throw new Error(`invalid settings in ${this.d.repo.describe()}:\n${loaded.error}`);
    this.running = loaded.settings;
    this.saved = loaded.saved;
    this.backendInUse = loaded.settings.ban.backend;
  }

  /**
   * Validates a whole new settings object (the running settings changed); refuses (ApiError invalid)
   * with the reason, changes nothing then. Saves it less the command line's overrides (savedFormOf),
   * and runs what a restart would run: the saved settings with the overrides applied.
   */
  apply(candidate: unknown): Settings {
    const r = SettingsSchema.safeParse(isPlainObject(candidate) ? { ...candidate, fleet: unredactFleet(candidate.fleet, this.running.fleet) } : candidate);
    if (!r.success) throw new ApiError('invalid', describeZodError(r.error));
    const overrides = this.d.overrides;
    if (!overrides) return this.use(r.data, r.data, true);
    const saved = SettingsSchema.safeParse(savedFormOf(this.saved, this.running, r.data));
    if (!saved.success) throw new ApiError('invalid', describeZodError(saved.error));
    const running = SettingsSchema.safeParse(overrides(saved.data));
    if (!running.success) throw new ApiError('invalid', describeZodError(running.error));
    return this.use(saved.data, running.data, true);
  }

  /**
   * Loads the settings again from where they are kept (`systemctl reload`, SIGHUP): a hand-edited
   * config file takes effect without a restart. Invalid settings are refused with the field and the
   * reason, and the running ones stay. `refuse` says why valid settings are still refused (the
   * start-time check of a config file holding secrets that others can read).
   */
  reload(refuse?: (s: Settings) => string | null): { ok: true } | { ok: false; error: string } {
    const loaded = loadSettings(this.d.repo, this.d.overrides);
    if (!loaded.ok) return { ok: false, error: `invalid settings in ${this.d.repo.describe()}, kept the running ones:\n${loaded.error}` };
    const refusal = refuse?.(loaded.settings);
    if (refusal) return { ok: false, error: `${refusal}; kept the running settings` };
    this.use(loaded.saved, loaded.settings, false);
    return { ok: true };
  }

  /** `running` becomes the running settings, `saved` (written to the repo when `save`) what it holds. */
  private use(saved: Settings, running: Settings, save: boolean): Settings {
    const before = this.running;
    // Saved first: a refused save (the config file was edited by hand meanwhile) changes nothing.
    if (save) this.d.repo.save(saved);
    this.saved = saved;
    this.running = running;
    this.d.onChange(before, running);
    // What goes back to a caller never carries the fleet's secrets.
    return { ...running, fleet: redactFleet(running.fleet) };
  }
}
