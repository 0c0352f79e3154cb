# shellcheck shell=bash
# OSC 133 command marks for bash >= 4.4, so teamssh can mark each command in the recording.
# Source it from the session account's ~/.bashrc:   . /path/to/handlers/osc133.bash
# Contract (handlers/README.md §3): before the prompt `ESC]133;D;<status>` (the last command's
# exit status) and `ESC]133;A`, after the prompt `ESC]133;B`, and just before a command runs
# `ESC]133;C;cmdline_url=<command line>` with only "%" and control characters percent-encoded,
# so teamssh's redaction still sees the command line as it was typed.

[[ $- == *i* ]] || return 0
[[ -n ${__teamssh_osc133-} ]] && return 0
__teamssh_osc133=1

__teamssh_osc133_prompt() {
  local status=$?
  # The last history line at prompt time: a command that did not enter history (a leading
  # space with HISTCONTROL=ignorespace) leaves it unchanged, and is then marked without a
  # command line; teamssh falls back to the echoed input.
  __teamssh_osc133_hist=$(HISTTIMEFORMAT='' builtin history 1)
  printf '\033]133;D;%s\007' "$status"
  return "$status"
}

# Runs inside PS0's command substitution, after the line was read and before it runs.
__teamssh_osc133_preexec() {
  local line cmd
  line=$(HISTTIMEFORMAT='' builtin history 1)
  if [[ $line != "$__teamssh_osc133_hist" && $line =~ ^[[:space:]]*[0-9]+\*?[[:space:]]+(.*)$ ]]; then
    cmd=${BASH_REMATCH[1]}
    cmd=${cmd//%/%25}
    cmd=${cmd//$'\n'/%0A}
    cmd=${cmd//$'\r'/%0D}
    cmd=${cmd//$'\t'/%09}
    cmd=${cmd//$'\e'/%1B}
    cmd=${cmd//$'\a'/%07}
    cmd=${cmd//[[:cntrl:]]/%3F}
    printf '\033]133;C;cmdline_url=%s\007' "$cmd"
  else
    printf '\033]133;C\007'
  fi
}

PROMPT_COMMAND="__teamssh_osc133_prompt${PROMPT_COMMAND:+; $PROMPT_COMMAND}"
PS1="\[\033]133;A\007\]${PS1}\[\033]133;B\007\]"
PS0="\$(__teamssh_osc133_preexec)${PS0-}"
