{{fetch}}
until apt-get -o DPkg::Lock::Timeout=600 update \
    && apt-get -o DPkg::Lock::Timeout=600 install -y \
       podman uidmap slirp4netns dbus-user-session nftables auditd; do
  echo "installing podman failed; retrying"
  sleep 10
done
# No engine API socket for root or any user: only the owner's own podman commands reach the engine.
systemctl mask podman.socket
systemctl stop podman.socket 2>/dev/null || true
systemctl --global mask podman.socket

# The engine's owner: a system user without password or login shell. Its subordinate ids back the
# container's user namespace: uid {{uid}} inside is host uid 200000+{{uid_offset}}, which owns nothing.
id -u {{user}} >/dev/null 2>&1 \
  || useradd --system --create-home --home-dir {{home}} --shell /usr/sbin/nologin {{user}}
grep -q '^{{user}}:' /etc/subuid \
  || usermod --add-subuids 200000-265535 --add-subgids 200000-265535 {{user}}
uid=$(id -u {{user}})

# Rootless Podman binds host port 80 itself: unprivileged ports start at 80 instead of 1024,
# exactly the service's port and nothing below it; no capability is granted to anyone.
cat > /etc/sysctl.d/60-alb-canary.conf <<'SYSCTL'
net.ipv4.ip_unprivileged_port_start = 80
SYSCTL
sysctl -p /etc/sysctl.d/60-alb-canary.conf

# The container needs no outbound connection. Its traffic would leave through slirp4netns from
# the host's own network stack, where the metadata hop limit of 1 does not stop it: drop every
# new outbound connection of the engine's owner (answers to accepted connections still flow).
cat > /etc/nftables.conf <<'NFT'
#!/usr/sbin/nft -f
flush ruleset
table inet alb_canary {
  chain output {
    type filter hook output priority filter; policy accept;
    meta skuid "{{user}}" ct state new counter drop
  }
}
NFT
systemctl enable nftables
systemctl restart nftables

# Logs: the container writes to the journal, which rotates by size and age.
install -d -m 0755 /etc/systemd/journald.conf.d
cat > /etc/systemd/journald.conf.d/60-alb-canary.conf <<'JOURNALD'
[Journal]
Storage=persistent
SystemMaxUse=512M
SystemMaxFileSize=64M
MaxRetentionSec=14day
JOURNALD
systemctl restart systemd-journald

# Audit changes to the engine, its configuration and the drill knobs.
cat > /etc/audit/rules.d/60-alb-canary.rules <<'AUDIT'
-w /usr/bin/podman -p x -k container-engine
-w /etc/containers -p wa -k container-engine
-w /etc/subuid -p wa -k container-engine
-w /etc/subgid -p wa -k container-engine
-w /etc/recommender -p wa -k container-config
AUDIT
augenrules --load

# Drill knobs: put RECOMMENDER_ERROR_RATE=0.3 (or ..._EXTRA_LATENCY_MS) in {{env_file}}, then run
# /usr/local/sbin/restart-recommender-v2. Readable by the engine's owner, writable by root only.
install -d -m 0755 /etc/recommender
touch {{env_file}}
chown root:{{user}} {{env_file}}
chmod 0640 {{env_file}}

# The user's own systemd, running from boot without a login.
loginctl enable-linger {{user}}
systemctl start "user@$uid.service"
as_engine_owner() {
  (cd {{home}} && runuser -u {{user}} -- env HOME={{home}} XDG_RUNTIME_DIR=/run/user/$uid \
     DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$uid/bus "$@")
}

# The image: FROM scratch + the binary fetched above, built by the owner, never pulled.
install -d -o root -g {{user}} -m 0750 {{home}}/image
install -o root -g {{user}} -m 0755 /opt/recommender/recommender {{home}}/image/recommender
cat > {{home}}/image/Dockerfile <<'DOCKERFILE'
{{dockerfile}}DOCKERFILE
as_engine_owner podman build --format docker --pull=never -t {{image}} {{home}}/image
as_engine_owner podman image prune --force

# The container: a Quadlet unit of the owner's systemd, in a directory only root can change. With
# the target signal it publishes on loopback only, and the proxy takes host port 80.
install -d -m 0755 {{quadlet_dir}}/$uid
if [[ "$TARGET_SIGNAL" == enabled ]]; then
cat > {{quadlet_dir}}/$uid/{{unit}}.container <<'QUADLET'
{{quadlet_behind_proxy}}QUADLET
else
cat > {{quadlet_dir}}/$uid/{{unit}}.container <<'QUADLET'
{{quadlet}}QUADLET
fi
cat > /usr/local/sbin/restart-recommender-v2 <<RUN
#!/bin/bash
exec runuser -u {{user}} -- env XDG_RUNTIME_DIR=/run/user/$uid systemctl --user restart {{unit}}.service
RUN
chmod 0755 /usr/local/sbin/restart-recommender-v2
as_engine_owner systemctl --user daemon-reload
/usr/local/sbin/restart-recommender-v2
{{signal}}