/* route_ctor.c - prints what route_ctor_lib's constructor did before main. */
#include <stdio.h>

const char *ctor_report(void);

int main(void)
{
	fputs(ctor_report(), stdout);
	puts("main ran");
	return 0;
}
