/* external-storage alternative: one contiguous dataset whose bytes live in N raw files */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(int c){struct timespec t;clock_gettime(c?CLOCK_PROCESS_CPUTIME_ID:CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){int N=atoi(argv[1]); hsize_t P=624, tot=N*P; char fn[256]; float*b=malloc(4*P);
 system("rm -rf /tmp/vdsx/e; mkdir -p /tmp/vdsx/e");
 for(int r=0;r<N;r++){for(hsize_t i=0;i<P;i++)b[i]=r*P+i; snprintf(fn,sizeof fn,"/tmp/vdsx/e/r%05d.bin",r); FILE*f=fopen(fn,"wb"); fwrite(b,4,16,f); fwrite(b,4,P,f); fclose(f);}
 hid_t x=H5Fcreate("/tmp/vdsx/e/index.h5",H5F_ACC_TRUNC,H5P_DEFAULT,H5P_DEFAULT); hid_t dcpl=H5Pcreate(H5P_DATASET_CREATE);
 for(int r=0;r<N;r++){snprintf(fn,sizeof fn,"r%05d.bin",r); H5Pset_external(dcpl,fn,64,4*P);}
 hid_t sp=H5Screate_simple(1,&tot,NULL); hid_t d=H5Dcreate2(x,"v",H5T_IEEE_F32LE,sp,H5P_DEFAULT,dcpl,H5P_DEFAULT); if(d<0)return 1; H5Dclose(d); H5Fclose(x);
 x=H5Fopen("/tmp/vdsx/e/index.h5",H5F_ACC_RDONLY,H5P_DEFAULT); hid_t dapl=H5Pcreate(H5P_DATASET_ACCESS); H5Pset_efile_prefix(dapl,"${ORIGIN}");
 d=H5Dopen2(x,"v",dapl); float*o=malloc(4*tot); double w=now(0),c=now(1);
 if(H5Dread(d,H5T_NATIVE_FLOAT,H5S_ALL,H5S_ALL,H5P_DEFAULT,o)<0)return 1; w=now(0)-w; c=now(1)-c;
 long bad=0; for(hsize_t i=0;i<tot;i++) if(o[i]!=(float)i)bad++;
 printf("external N %d read_s %.3f read_cpu_s %.3f bad %ld\n",N,w,c,bad); return 0;}
