/* http.c - `cuslice metrics --listen`: GET /metrics through libmicrohttpd.
 *
 * cuslice binds the socket itself (so "port 0" can be reported back and the
 * address family is known) and hands it to libmicrohttpd, which runs its
 * own polling thread; the main thread waits for SIGINT or SIGTERM. Every
 * request reads the folder afresh: a scrape is a snapshot.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static mhd_result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			char *body, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	mhd_result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static mhd_result answer_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	char *body = strdup(text);
	return body != NULL ? reply(conn, status, "text/plain; charset=utf-8", body, strlen(body))
			    : MHD_NO;
}

/* For probes: 200 while the folder can be read (the per-GPU files in it
 * may be corrupt: metrics report those), 503 when it cannot. */
static mhd_result answer_health(struct MHD_Connection *conn, const char *dir)
{
	struct gpu_set set;
	if (gpus_read(&set, dir) != 0)
		return answer_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				   "cannot read the cuslice folder\n");
	gpus_free(&set);
	return answer_text(conn, MHD_HTTP_OK, "ok\n");
}

static mhd_result answer(void *cls, struct MHD_Connection *conn, const char *url,
			 const char *method, const char *version, const char *upload_data,
			 size_t *upload_data_size, void **con_cls)
{
	(void)version, (void)upload_data, (void)upload_data_size, (void)con_cls;
	const char *dir = cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET /metrics\n");
	if (strcmp(url, "/") == 0)
		return answer_text(conn, MHD_HTTP_OK, "cuslice metrics: see /metrics\n");
	if (strcmp(url, "/healthz") == 0)
		return answer_health(conn, dir);
	if (strcmp(url, "/metrics") != 0)
		return answer_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
	struct gpu_set set;
	if (gpus_read(&set, dir) != 0)
		return answer_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "cannot read the cuslice folder\n");
	size_t len = 0;
	char *text = metrics_render(&set, &len);
	gpus_free(&set);
	if (text == NULL)
		return MHD_NO;
	return reply(conn, MHD_HTTP_OK, CONTENT_TYPE, text, len);
}

/* Splits "PORT", ":PORT", "ADDR:PORT" or "[V6]:PORT". Returns 0 or -EINVAL. */
static int split_listen(const char *spec, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon = strrchr(spec, ':');
	const char *p = colon != NULL ? colon + 1 : spec;
	if (*p == '\0' || strspn(p, "0123456789") != strlen(p) || strlen(p) >= plen ||
	    atoi(p) > 65535)
		return -EINVAL;
	snprintf(port, plen, "%s", p);
	size_t n = colon != NULL ? (size_t)(colon - spec) : 0;
	if (n == 0) {
		snprintf(host, hlen, "127.0.0.1");
		return 0;
	}
	if (spec[0] == '[') {
		if (n < 2 || spec[n - 1] != ']')
			return -EINVAL;
		spec++;
		n -= 2;
	}
	if (n >= hlen)
		return -EINVAL;
	memcpy(host, spec, n);
	host[n] = '\0';
	return 0;
}

/* A listening socket for spec, or -1 with the reason on stderr. */
static int bind_listen(const char *spec, int *family, char *shown, size_t slen)
{
	char host[256], port[16];
	if (split_listen(spec, host, sizeof(host), port, sizeof(port)) != 0) {
		fprintf(stderr, "cuslice metrics: --listen '%s' is not valid: expected PORT, "
				":PORT, ADDR:PORT or [IPV6]:PORT\n", spec);
		return -1;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	int gai = getaddrinfo(host, port, &hints, &ai);
	if (gai != 0) {
		fprintf(stderr, "cuslice metrics: --listen %s: %s\n", spec, gai_strerror(gai));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
		fprintf(stderr, "cuslice metrics: cannot listen on %s: %s\n", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	*family = ai->ai_family;
	freeaddrinfo(ai);
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned bound = 0;
	if (getsockname(fd, (struct sockaddr *)&sa, &salen) == 0) {
		if (sa.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa;
			inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
			bound = ntohs(s6->sin6_port);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;
			inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
			bound = ntohs(s4->sin_port);
		}
	}
	snprintf(shown, slen, *family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr, bound);
	return fd;
}

int http_serve(const char *listen_spec, const char *dir)
{
	int family = AF_INET;
	char shown[128];
	int fd = bind_listen(listen_spec, &family, shown, sizeof(shown));
	if (fd < 0)
		return EXIT_PROBLEM;
	/* Block the stop signals before the server thread starts, so it
	 * inherits the mask and they reach sigwait() below. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	struct MHD_Daemon *d = MHD_start_daemon(flags, 0, NULL, NULL, answer, (void *)dir,
						MHD_OPTION_LISTEN_SOCKET, fd,
						MHD_OPTION_CONNECTION_TIMEOUT, 10u,
						MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "cuslice metrics: the HTTP server could not start on %s\n", shown);
		close(fd);
		return EXIT_PROBLEM;
	}
	fprintf(stderr, "cuslice metrics: serving http://%s/metrics for %s (Ctrl-C stops)\n",
		shown, dir);
	int sig;
	sigwait(&stop, &sig);
	MHD_stop_daemon(d); /* closes the listening socket too */
	return 0;
}
