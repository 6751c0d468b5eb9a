#!/usr/bin/env bash
# Provision and run a real Apache Kafka broker (KRaft, single combined node) without Docker.
#
#   kafka.sh up       resolve jars (cached), format storage once, start, return when the broker answers
#   kafka.sh down     stop cleanly (SIGTERM, then SIGKILL after 30 s); data is kept
#   kafka.sh status   exit 0 when the broker answers a metadata request
#   kafka.sh reset    down, then delete the data directory
#   kafka.sh tool CLASS ARGS...   run a Kafka tool class on the broker's classpath
#
# Environment (all optional):
#   LOCKSTEP_KAFKA_PORT             client port                 (9092)
#   LOCKSTEP_KAFKA_CONTROLLER_PORT  KRaft controller port       (port + 1)
#   LOCKSTEP_KAFKA_DIR              state: data, logs, pid      (<repo>/var/kafka)
#   LOCKSTEP_KAFKA_LIBS             jar cache                   (<repo>/var/kafka-libs)
#   LOCKSTEP_KAFKA_HEAP             JVM heap                    (512m)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
port=${LOCKSTEP_KAFKA_PORT:-9092}
cport=${LOCKSTEP_KAFKA_CONTROLLER_PORT:-$((port + 1))}
state=${LOCKSTEP_KAFKA_DIR:-$repo/var/kafka}
libs=${LOCKSTEP_KAFKA_LIBS:-$repo/var/kafka-libs}
heap=${LOCKSTEP_KAFKA_HEAP:-512m}
data=$state/data
pidfile=$state/broker.pid

say() { echo "kafka.sh: $*" >&2; }

resolve_jars() {
  [ -f "$libs/.complete" ] && return 0
  command -v java >/dev/null || { say "java not found: install OpenJDK 17 (apt-get install openjdk-17-jre-headless)"; exit 1; }
  command -v mvn >/dev/null || { say "mvn not found: install Maven (apt-get install maven)"; exit 1; }
  say "resolving Apache Kafka jars from Maven Central into $libs"
  rm -rf "$libs" && mkdir -p "$libs"
  if ! mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$libs" >"$state.mvn.log" 2>&1; then
    say "mvn failed; its output:"; cat "$state.mvn.log" >&2; exit 1
  fi
  touch "$libs/.complete"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

run_tool() { java -Xmx256m -cp "$libs/*" -Dlog4j2.configurationFile="$here/log4j2.yaml" -Dkafka.logs.dir="$state/tool-logs" "$@"; }

answers() {
  port_open "$port" || return 1
  # A real metadata request: list topics through the admin client.
  run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$port" --list >/dev/null 2>&1
}

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid; pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

up() {
  mkdir -p "$state/logs"
  if running_pid >/dev/null && answers; then say "broker already up on 127.0.0.1:$port"; return 0; fi
  if port_open "$port" && ! running_pid >/dev/null; then
    say "port $port is taken by another process; set LOCKSTEP_KAFKA_PORT"; exit 1
  fi
  resolve_jars
  sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$cport|g" -e "s|@DATA_DIR@|$data|g" \
    "$here/server.properties.in" >"$state/server.properties"
  if [ ! -f "$data/meta.properties" ]; then
    local id; id=$(run_tool kafka.tools.StorageTool random-uuid)
    run_tool kafka.tools.StorageTool format --ignore-formatted -t "$id" -c "$state/server.properties" >"$state/logs/format.log" 2>&1 \
      || { say "formatting storage failed:"; cat "$state/logs/format.log" >&2; exit 1; }
  fi
  if ! running_pid >/dev/null; then
    nohup java -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -Djava.awt.headless=true \
      -Dkafka.logs.dir="$state/logs" -Dlog4j2.configurationFile="$here/log4j2.yaml" \
      -cp "$libs/*" kafka.Kafka "$state/server.properties" >"$state/logs/stdout.log" 2>&1 &
    echo $! >"$pidfile"
  fi
  local deadline=$((SECONDS + 120))
  until answers; do
    if ! running_pid >/dev/null; then say "broker exited during start-up; last log lines:"; tail -n 30 "$state/logs/stdout.log" "$state/logs/server.log" >&2 2>/dev/null || true; exit 1; fi
    if [ $SECONDS -ge $deadline ]; then say "broker did not answer within 120 s"; exit 1; fi
    sleep 0.5
  done
  say "broker up on 127.0.0.1:$port (pid $(cat "$pidfile"))"
}

down() {
  local pid; pid=$(running_pid) || { rm -f "$pidfile"; say "broker not running"; return 0; }
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then say "broker did not stop in 30 s; killing"; kill -KILL "$pid"; fi
  rm -f "$pidfile"
  say "broker stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) answers ;;
  reset) down; rm -rf "$data" ;;
  tool) shift; resolve_jars; run_tool "$@" ;;
  *) echo "usage: kafka.sh up|down|status|reset|tool CLASS ARGS..." >&2; exit 2 ;;
esac
