/*
 * Intrusive doubly linked lists, circular with a sentinel head, in the
 * manner of the Linux kernel's list.h: the node lives inside the object, so
 * insertion and removal never allocate and cannot fail.
 */
#ifndef SHOAL_COMMON_LIST_H
#define SHOAL_COMMON_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_node {
	struct list_node *next;
	struct list_node *prev;
};

#define LIST_HEAD_INIT(name)                                                   \
	{                                                                      \
		&(name), &(name)                                               \
	}

#define container_of(ptr, type, member)                                        \
	((type *)((char *)(ptr)-offsetof(type, member)))

static inline void list_init(struct list_node *head)
{
	head->next = head;
	head->prev = head;
}

static inline bool list_empty(const struct list_node *head)
{
	return head->next == head;
}

static inline void list__insert(struct list_node *n, struct list_node *prev,
				struct list_node *next)
{
	n->next = next;
	n->prev = prev;
	prev->next = n;
	next->prev = n;
}

/** list_push_back() - append @n at the tail of @head. */
static inline void list_push_back(struct list_node *head, struct list_node *n)
{
	list__insert(n, head->prev, head);
}

/** list_push_front() - insert @n at the front of @head. */
static inline void list_push_front(struct list_node *head, struct list_node *n)
{
	list__insert(n, head, head->next);
}

/** list_remove() - unlink @n; it is left pointing at itself (empty). */
static inline void list_remove(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_init(n);
}

static inline struct list_node *list_front(const struct list_node *head)
{
	return list_empty(head) ? NULL : head->next;
}

static inline size_t list_len(const struct list_node *head)
{
	size_t n = 0;
	for (const struct list_node *p = head->next; p != head; p = p->next)
		n++;
	return n;
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)

#define list_for_each(pos, head)                                               \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

/* Safe against removal of pos inside the loop. */
#define list_for_each_safe(pos, tmp, head)                                     \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);       \
	     (pos) = (tmp), (tmp) = (pos)->next)

#endif
