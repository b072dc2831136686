#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(int c){struct timespec t;clock_gettime(c?CLOCK_PROCESS_CPUTIME_ID:CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){int N=atoi(argv[1]); int keep=atoi(argv[2]); hid_t*f=malloc(sizeof(hid_t)*N); char fn[256];
 double w0=now(0),c0=now(1), wl=w0, cl=c0;
 for(int r=0;r<N;r++){snprintf(fn,sizeof fn,"/tmp/vdsx/d/s%05d.h5",r); f[r]=H5Fopen(fn,H5F_ACC_RDONLY,H5P_DEFAULT); if(f[r]<0)return 1;
   hid_t d=H5Dopen2(f[r],"d",H5P_DEFAULT); H5Dclose(d); if(!keep)H5Fclose(f[r]);
   if((r+1)%(N/4)==0){double w=now(0),c=now(1); printf("  files %d..%d: wall %.2f ms/file cpu %.2f ms/file\n",r+1-N/4,r+1,(w-wl)*1e3/(N/4),(c-cl)*1e3/(N/4)); wl=w;cl=c;}}
 printf("N %d keep %d wall %.3f cpu %.3f\n",N,keep,now(0)-w0,now(1)-c0); return 0;}
