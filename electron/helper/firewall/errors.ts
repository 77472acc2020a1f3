/** A refused or failed firewall operation, with a machine-readable code and a sentence for humans. */
export type FirewallErrorCode =
  | 'bad-address'
  | 'bad-timeout'
  | 'bad-comment'
  | 'bad-option'
  | 'bad-file'
  | 'missing-file'
  | 'rejected-rules'
  | 'reload-failed'
  | 'ipset'
  | 'ufw'
  | 'conntrack'
  | 'iptables';

export class FirewallError extends Error {
  readonly code: FirewallErrorCode;
  constructor(code: FirewallErrorCode, message: string) {
    super(message);
    this.name = 'FirewallError';
    this.code = code;
  }
}
