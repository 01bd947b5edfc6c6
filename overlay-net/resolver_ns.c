/*
 * The resolver's sockets inside a container's network namespace.
 *
 * A socket belongs to the network namespace of the thread that created it,
 * for its whole life, whichever thread uses it later. So a short-lived
 * thread enters the namespace (setns(2) with CLONE_NEWNET, allowed in a
 * multithreaded process, unlike a mount namespace), brings lo up (127.0.0.11
 * is local through lo's 127.0.0.0/8 route, so no NAT is needed), binds a UDP
 * socket and a listening TCP socket to 127.0.0.11:53, and exits; the daemon
 * joins it and hands the descriptors to its loop. The loop's own thread
 * never changes namespace, and the namespace change dies with the thread.
 *
 * The thread is joined before returning: the whole call takes well under a
 * millisecond, the price of a thread start, paid once per container start.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "overlay-net/resolver_internal.h"

struct ns_job {
	int nsfd;
	int udp_fd;
	int tcp_fd;
	int err;
	const char *step;
};

static int lo_up(void)
{
	struct ifreq ifr;
	int fd, rc = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		rc = -errno;
	} else if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			rc = -errno;
	}
	close(fd);
	return rc;
}

static int bound_socket(int type, int *out)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(53)};
	int fd, e, one = 1;

	inet_pton(AF_INET, NET_RESOLVER_ADDR, &sa.sin_addr);
	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (type == SOCK_STREAM &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto err_close;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto err_close;
	if (type == SOCK_STREAM && listen(fd, 64) < 0)
		goto err_close;
	*out = fd;
	return 0;

err_close:
	e = -errno;
	close(fd);
	return e;
}

static void *ns_thread(void *arg)
{
	struct ns_job *job = arg;

	job->step = "enter the network namespace";
	if (setns(job->nsfd, CLONE_NEWNET) < 0) {
		job->err = -errno;
		return NULL;
	}
	job->step = "bring lo up";
	job->err = lo_up();
	if (job->err < 0)
		return NULL;
	job->step = "bind UDP 127.0.0.11:53";
	job->err = bound_socket(SOCK_DGRAM, &job->udp_fd);
	if (job->err < 0)
		return NULL;
	job->step = "listen on TCP 127.0.0.11:53";
	job->err = bound_socket(SOCK_STREAM, &job->tcp_fd);
	if (job->err < 0) {
		close(job->udp_fd);
		job->udp_fd = -1;
	}
	return NULL;
}

int rs__ns_sockets(const char *netns_path, int *udp_fd, int *tcp_fd,
		   const char **step)
{
	struct ns_job job = {.udp_fd = -1, .tcp_fd = -1};
	pthread_t th;
	int rc;

	*step = "open the network namespace";
	job.nsfd = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (job.nsfd < 0)
		return -errno;
	*step = "start a thread";
	rc = pthread_create(&th, NULL, ns_thread, &job);
	if (rc != 0) {
		close(job.nsfd);
		return -rc;
	}
	pthread_join(th, NULL);
	close(job.nsfd);
	*step = job.step;
	if (job.err < 0)
		return job.err;
	*udp_fd = job.udp_fd;
	*tcp_fd = job.tcp_fd;
	return 0;
}
