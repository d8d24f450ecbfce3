#!/usr/bin/env bash
# envpack.hosts through a real ssh: each of the test's two namespace "hosts" (run_hosts_lib.bash)
# runs its own sshd (Debian's openssh-server) on port 22 of its own address, with a host key and
# a client key made here; the job's `remote_exec: [ssh, -F, CONFIG]` (ssh joins its words into one
# remote command line: envpack quotes CMD twice). The MPI 2x2 allreduce passes (mpirun's orteds
# reach node 1 through the broker on host 1, which runs ssh to host 2), a variable full of shell syntax arrives intact, the
# second host receives the image's blobs through ssh, and nothing of the run is left.
# Uses the base_image fixture (base-image.env, read by run_multi_lib.bash).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_multi_lib.bash"
need ssh ssh-keygen
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || skip "sshd is not installed (openssh-server; make deps installs it)"
source "$(dirname "$0")/run_hosts_lib.bash"

ssh-keygen -q -t ed25519 -N '' -f "$SCRATCH/client_key"
ssh-keygen -q -t ed25519 -N '' -f "$SCRATCH/host_key"
cp "$SCRATCH/client_key.pub" "$SCRATCH/authorized_keys"
chmod 600 "$SCRATCH/authorized_keys"
mkdir -p /run/sshd  # sshd's privilege separation directory
n=0
for ns in "$NS1" "$NS2"; do
  n=$((n + 1))
  ip netns exec "$ns" "$SSHD" -D -e -f /dev/null -h "$SCRATCH/host_key" \
    -o "ListenAddress=$prefix.$((n + 1)):22" -o PidFile=none \
    -o "AuthorizedKeysFile=$SCRATCH/authorized_keys" -o StrictModes=no -o UsePAM=no \
    -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no \
    -o KbdInteractiveAuthentication=no -o MaxStartups=100 -o MaxSessions=100 \
    > "$SCRATCH/sshd$n.log" 2>&1 &
  track_pid $!
done
cat > "$SCRATCH/ssh_config" <<CONF
Host $NS1
  HostName $prefix.2
Host $NS2
  HostName $prefix.3
Host *
  User root
  Port 22
  IdentityFile $SCRATCH/client_key
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  BatchMode yes
  LogLevel ERROR
CONF
for ns in "$NS1" "$NS2"; do
  for i in $(seq 100); do
    ssh -F "$SCRATCH/ssh_config" "$ns" true 2> /dev/null && break
    sleep 0.1
  done
  ssh -F "$SCRATCH/ssh_config" "$ns" true || { cat "$SCRATCH"/sshd*.log; fail "sshd in $ns does not answer"; }
done

write_job ssh "$NS2" "[ssh, -F, $SCRATCH/ssh_config]"
start=$(date +%s.%N)
expect_exit 0 "$ENVPACK" run "$job/ssh.yaml"
echo "2x2 MPI over ssh (with blobs): $(echo "$(date +%s.%N) - $start" | bc) s"
id=$(last_run)
for r in 0 1 2 3; do
  h=$NS1; [ $r -ge 2 ] && h=$NS2
  grep -q "rank $r of 4 on $h: allreduce 10 ok" "$SCRATCH/out" || { cat "$SCRATCH/out" "$SCRATCH/err"; fail "rank $r did not report"; }
done
[ "$(sent_to "$id" "$NS2")" -gt 0 ] || fail "host 2 got no blobs over ssh: $(cat "$ENVPACK_HOME/runs/$id/hosts.json")"
assert_hosts_clean "$id"
echo "run_ssh: ok"
