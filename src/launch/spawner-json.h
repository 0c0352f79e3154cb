/* The one JSON shape teamssh-spawner reads: see spawner-json.c. */
#ifndef TEAMSSH_SPAWNER_JSON_H
#define TEAMSSH_SPAWNER_JSON_H
#include <stddef.h>

struct spawn_request {
	long long id;     /* -1 when absent or unreadable */
	int cmd_is_spawn; /* "cmd":"spawn"; other commands (Node's NODE_HANDLE_ACK) are ignored */
	char **argv;      /* NULL-terminated, owned */
	char **envp;      /* NULL-terminated, owned */
};

/* Parses one line; 0 on success. On failure everything is freed and req->id says whom to tell. */
int parse_spawn_request(const char *line, size_t len, struct spawn_request *req);
void free_spawn_request(struct spawn_request *req);
#endif
