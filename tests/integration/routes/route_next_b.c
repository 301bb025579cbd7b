/* route_next_b.c - the next definition of probe_name (see route_next_a.c). */
__attribute__((visibility("default"))) const char *probe_name(void)
{
	return "B";
}

__attribute__((visibility("default"))) int probe_b_loaded(void)
{
	return 1;
}
