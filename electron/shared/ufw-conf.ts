/**
 * A key's value as ufw reads /etc/default/ufw and /etc/ufw/ufw.conf (ufw's backend._get_defaults):
 * lines `KEY=value` from the first column, key and value lower-cased, quotes stripped, the last such
 * line winning; null when no line sets the key. ufw then treats a missing IPV6 or ENABLED as "no"
 * (backend.use_ipv6 / is_enabled; ufw-init tests `[ "$IPV6" = "yes" ]`). Read any other way (a `yes`
 * on an indented line, `ENABLED=YES` taken for no, the first of two lines) a caller would act on
 * rules ufw does not load, or miss rules it does.
 */
export function ufwConfValue(text: string, key: string): string | null {
  let value: string | null = null;
  for (const line of text.split('\n')) {
    if (!/^\w+="?\w+"?/.test(line)) continue;
    const [k, v = ''] = line.trim().split('=');
    if (k!.toLowerCase() === key.toLowerCase()) value = v.toLowerCase().replace(/^["']+|["']+$/g, '');
  }
  return value;
}
