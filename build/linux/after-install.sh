#!/bin/sh
# deb/rpm post-install. Replaces electron-builder's default script, so it repeats what that one does
# (command symlink, chrome-sandbox mode) and adds Portcullis's polkit action for the root helper.
set -e
APP_DIR='/opt/Portcullis'

if type update-alternatives >/dev/null 2>&1; then
  if [ -L /usr/bin/portcullis ] && [ -e /usr/bin/portcullis ] && [ "$(readlink /usr/bin/portcullis)" != /etc/alternatives/portcullis ]; then
    rm -f /usr/bin/portcullis
  fi
  update-alternatives --install /usr/bin/portcullis portcullis "$APP_DIR/portcullis" 100 || ln -sf "$APP_DIR/portcullis" /usr/bin/portcullis
else
  ln -sf "$APP_DIR/portcullis" /usr/bin/portcullis
fi

# Chromium's setuid sandbox helper, needed where unprivileged user namespaces are off.
if [ -f "$APP_DIR/chrome-sandbox" ]; then
  chown root:root "$APP_DIR/chrome-sandbox"
  chmod 4755 "$APP_DIR/chrome-sandbox"
fi

# The helper runs as root: its files must be root's and not writable by anyone else.
chown -R root:root "$APP_DIR/resources/helper"
chmod 0755 "$APP_DIR/resources/helper" "$APP_DIR/resources/helper/portcullis-helper"
chmod 0644 "$APP_DIR/resources/helper/helper.mjs"

install -D -m 0644 "$APP_DIR/resources/polkit/io.portcullis.helper.policy" /usr/share/polkit-1/actions/io.portcullis.helper.policy

if hash update-mime-database 2>/dev/null; then update-mime-database /usr/share/mime || true; fi
if hash update-desktop-database 2>/dev/null; then update-desktop-database /usr/share/applications || true; fi
