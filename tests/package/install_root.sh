#!/bin/sh
# A root to install the package into, as on a machine that never had uvs: this machine's root
# as a copy-on-write overlay in a private mount namespace (nothing written reaches the real
# root, and it all goes when the namespace's last process exits), with anything uvs a
# `make install` may have left here removed from it.
#
#   install_root.sh DIR DEB   -> DIR/root, the package file at /tmp/uvs.deb inside it; prints
#                                "ready" and sleeps, holding the namespace (enter it with
#                                nsenter -t PID -m, then chroot DIR/root)
set -eu
dir=$1
deb=$2
mount -t tmpfs uvs-root "$dir"
mkdir "$dir/upper" "$dir/work" "$dir/root"
mount -t overlay uvs-root -o "lowerdir=/,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
root=$dir/root
# The kernel's file systems and the network namespaces the lab made (ip netns exec needs them).
for d in proc sys dev run/netns; do
  mkdir -p "$root/$d"
  mount --rbind "/$d" "$root/$d"
  mount --make-rslave "$root/$d"
done
rm -rf "$root"/usr/local/sbin/uvs* "$root"/usr/local/lib/uvs "$root"/usr/local/share/uvs \
  "$root"/etc/systemd/system/uvsd.service "$root"/etc/systemd/system/keepalived.service.d \
  "$root"/etc/uvs "$root"/etc/default/uvs "$root"/run/uvs
cp "$deb" "$root/tmp/uvs.deb"
echo ready
exec sleep 3600
