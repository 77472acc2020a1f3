#!/bin/sh
# deb/rpm post-remove: undo after-install.sh.
set -e
if type update-alternatives >/dev/null 2>&1; then
  update-alternatives --remove portcullis /opt/Portcullis/portcullis 2>/dev/null || true
fi
[ -L /usr/bin/portcullis ] && [ ! -e /usr/bin/portcullis ] && rm -f /usr/bin/portcullis
rm -f /usr/share/polkit-1/actions/io.portcullis.helper.policy
exit 0
