/* The experiment behind SCALING.md "h5py through the VDS" (kept as measured, not built by
 * CMake): gcc -O2 vds_experiment.c -I/usr/include/hdf5/serial -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5
 * -o vx && ./vx MODE N 624   (output of the runs: vds_experiment.txt) */
/* vx: VDS read scaling experiment. vx MODE N [P]
 * modes: files1d   N files, one 1-D mapping each
 *        onefile   one source file holding N datasets, one mapping each
 *        samedset  one file, one dataset, N mappings into its pieces
 *        rows3     N files, 2-D VDS, piece = up to 3 rectangles (as ztrain)
 *        flat      N files, 2-D VDS, one mapping per piece (1-D src -> 2-D irregular hyperslab union)
 *        nested    N files, 2-level: groups of G mappings in sub-VDSs in the index file
 */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static double cpu(void){struct timespec t;clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define D "/tmp/vdsx/d"
int main(int argc,char**argv){
  const char*mode=argv[1]; int N=atoi(argv[2]); hsize_t P=argc>3?atoll(argv[3]):625; int G=argc>4?atoi(argv[4]):64;
  hsize_t COLS=96; hsize_t tot=N*P; hsize_t rows=(tot+COLS-1)/COLS;
  int multi=!strcmp(mode,"files1d")||!strcmp(mode,"rows3")||!strcmp(mode,"flat")||!strcmp(mode,"nested");
  char fn[256],dn[64]; double t0=now();
  float*buf=malloc(sizeof(float)*P);
  system("rm -rf " D "; mkdir -p " D);
  hid_t one=-1;
  if(!multi){ one=H5Fcreate(D "/src.h5",H5F_ACC_TRUNC,H5P_DEFAULT,H5P_DEFAULT);}
  if(!strcmp(mode,"samedset")){ hsize_t n=tot; hid_t s=H5Screate_simple(1,&n,NULL); hid_t d=H5Dcreate2(one,"d",H5T_NATIVE_FLOAT,s,H5P_DEFAULT,H5P_DEFAULT,H5P_DEFAULT);
    float*b=malloc(4*tot); for(hsize_t i=0;i<tot;i++)b[i]=i; H5Dwrite(d,H5T_NATIVE_FLOAT,H5S_ALL,H5S_ALL,H5P_DEFAULT,b); H5Dclose(d);H5Sclose(s);free(b);}
  else for(int r=0;r<N;r++){
    for(hsize_t i=0;i<P;i++)buf[i]=r*P+i;
    hid_t f; if(multi){snprintf(fn,sizeof fn,D "/s%05d.h5",r); f=H5Fcreate(fn,H5F_ACC_TRUNC,H5P_DEFAULT,H5P_DEFAULT);} else f=one;
    snprintf(dn,sizeof dn,multi?"d":"d%05d",r);
    hid_t s=H5Screate_simple(1,&P,NULL); hid_t d=H5Dcreate2(f,dn,H5T_NATIVE_FLOAT,s,H5P_DEFAULT,H5P_DEFAULT,H5P_DEFAULT);
    H5Dwrite(d,H5T_NATIVE_FLOAT,H5S_ALL,H5S_ALL,H5P_DEFAULT,buf); H5Dclose(d);H5Sclose(s); if(multi)H5Fclose(f);}
  if(one>=0)H5Fclose(one);
  double t1=now();
  hid_t fapl=H5Pcreate(H5P_FILE_ACCESS); H5Pset_libver_bounds(fapl,H5F_LIBVER_V18,H5F_LIBVER_LATEST);
  hid_t x=H5Fcreate(D "/index.h5",H5F_ACC_TRUNC,H5P_DEFAULT,fapl);
  hid_t dcpl=H5Pcreate(H5P_DATASET_CREATE); float nan=0.0f/0.0f; H5Pset_fill_value(dcpl,H5T_NATIVE_FLOAT,&nan);
  int is2d=!strcmp(mode,"rows3")||!strcmp(mode,"flat")||!strcmp(mode,"nested");
  hsize_t vd[2]={is2d?tot/COLS:tot,COLS}; if(is2d&&tot%COLS){fprintf(stderr,"tot %% COLS\n");return 1;}
  hid_t vsp=H5Screate_simple(is2d?2:1,vd,NULL); hid_t ssp=H5Screate_simple(1,&P,NULL);
  long nmap=0;
  if(!strcmp(mode,"nested")){
    /* sub-VDS k: 1-D of the pieces of files [k*G,(k+1)*G), then top maps its 1-D onto 2-D rows via flat mapping */
    int ng=(N+G-1)/G; H5Gcreate2(x,"sub",H5P_DEFAULT,H5P_DEFAULT,H5P_DEFAULT);
    for(int k=0;k<ng;k++){ int a=k*G,b=(k+1)*G<N?(k+1)*G:N; hsize_t n=(b-a)*P; hid_t sv=H5Screate_simple(1,&n,NULL);
      hid_t dc=H5Pcreate(H5P_DATASET_CREATE); H5Pset_fill_value(dc,H5T_NATIVE_FLOAT,&nan);
      for(int r=a;r<b;r++){ hsize_t st=(r-a)*P; H5Sselect_hyperslab(sv,H5S_SELECT_SET,&st,NULL,&P,NULL); H5Sselect_all(ssp);
        snprintf(fn,sizeof fn,"s%05d.h5",r); H5Pset_virtual(dc,sv,fn,"d",ssp); nmap++;}
      H5Sselect_all(sv); snprintf(dn,sizeof dn,"sub/g%05d",k);
      hid_t d=H5Dcreate2(x,dn,H5T_NATIVE_FLOAT,sv,H5P_DEFAULT,dc,H5P_DEFAULT); H5Dclose(d); H5Pclose(dc);
      /* top: flat mapping of [a*P, b*P) */
      hsize_t s0=a*P, e0=b*P; H5Sselect_none(vsp);
      hsize_t pos=s0; while(pos<e0){ hsize_t row=pos/COLS,col=pos%COLS,len; hsize_t vs[2],vc[2];
        if(col||e0-pos<COLS){len=COLS-col<e0-pos?COLS-col:e0-pos; vs[0]=row;vs[1]=col;vc[0]=1;vc[1]=len;} else {hsize_t rr=(e0-pos)/COLS; len=rr*COLS; vs[0]=row;vs[1]=0;vc[0]=rr;vc[1]=COLS;}
        H5Sselect_hyperslab(vsp,H5S_SELECT_OR,vs,NULL,vc,NULL); pos+=len;}
      H5Sselect_all(sv); snprintf(fn,sizeof fn,".");
      H5Pset_virtual(dcpl,vsp,".",dn,sv); H5Sclose(sv);}
  } else for(int r=0;r<N;r++){
    if(!strcmp(mode,"samedset")){ fn[0]=0; snprintf(fn,sizeof fn,"src.h5"); snprintf(dn,sizeof dn,"d");}
    else if(multi){ snprintf(fn,sizeof fn,"s%05d.h5",r); snprintf(dn,sizeof dn,"d");}
    else { snprintf(fn,sizeof fn,"src.h5"); snprintf(dn,sizeof dn,"d%05d",r);}
    hsize_t s0=(hsize_t)r*P,e0=s0+P;
    if(!is2d){ H5Sselect_hyperslab(vsp,H5S_SELECT_SET,&s0,NULL,&P,NULL);
      if(!strcmp(mode,"samedset")) H5Sselect_hyperslab(ssp==ssp?ssp:0,H5S_SELECT_SET,&(hsize_t){0},NULL,&P,NULL);
      hid_t ss=ssp; if(!strcmp(mode,"samedset")){ hsize_t n=tot; ss=H5Screate_simple(1,&n,NULL); H5Sselect_hyperslab(ss,H5S_SELECT_SET,&s0,NULL,&P,NULL);}
      H5Pset_virtual(dcpl,vsp,fn,dn,ss); nmap++; if(ss!=ssp)H5Sclose(ss); continue;}
    if(!strcmp(mode,"flat")) H5Sselect_none(vsp);
    hsize_t pos=s0, soff=0; while(pos<e0){ hsize_t row=pos/COLS,col=pos%COLS,len; hsize_t vs[2],vc[2];
      if(col||e0-pos<COLS){len=COLS-col<e0-pos?COLS-col:e0-pos; vs[0]=row;vs[1]=col;vc[0]=1;vc[1]=len;} else {hsize_t rr=(e0-pos)/COLS; len=rr*COLS; vs[0]=row;vs[1]=0;vc[0]=rr;vc[1]=COLS;}
      if(!strcmp(mode,"flat")) H5Sselect_hyperslab(vsp,H5S_SELECT_OR,vs,NULL,vc,NULL);
      else { H5Sselect_hyperslab(vsp,H5S_SELECT_SET,vs,NULL,vc,NULL); H5Sselect_hyperslab(ssp,H5S_SELECT_SET,&soff,NULL,&len,NULL); H5Pset_virtual(dcpl,vsp,fn,dn,ssp); nmap++;}
      pos+=len; soff+=len;}
    if(!strcmp(mode,"flat")){ H5Sselect_all(ssp); if(H5Pset_virtual(dcpl,vsp,fn,dn,ssp)<0){fprintf(stderr,"set_virtual flat failed\n");return 1;} nmap++;}
  }
  H5Sselect_all(vsp);
  hid_t v=H5Dcreate2(x,"v",H5T_NATIVE_FLOAT,vsp,H5P_DEFAULT,dcpl,H5P_DEFAULT); if(v<0)return 1; H5Dclose(v); H5Fclose(x);
  double t2=now();
  /* read */
  const char*deg=getenv("FCLOSE");
  hid_t ra=H5Pcreate(H5P_FILE_ACCESS); if(deg&&*deg=='s')H5Pset_fclose_degree(ra,H5F_CLOSE_STRONG);
  x=H5Fopen(D "/index.h5",H5F_ACC_RDONLY,ra);
  hid_t dapl=H5Pcreate(H5P_DATASET_ACCESS); if(getenv("GAP"))H5Pset_virtual_printf_gap(dapl,atoi(getenv("GAP")));
  if(getenv("VIEW"))H5Pset_virtual_view(dapl,H5D_VDS_FIRST_MISSING);
  v=H5Dopen2(x,"v",dapl); float*out=malloc(4*tot);
  double t3=now(), c3=cpu();
  if(H5Dread(v,H5T_NATIVE_FLOAT,H5S_ALL,H5S_ALL,H5P_DEFAULT,out)<0){fprintf(stderr,"read fail\n");return 1;}
  double t4=now(), c4=cpu();
  long bad=0; for(hsize_t i=0;i<tot;i++) if(out[i]!=(float)i) bad++;
  H5Dclose(v); H5Fclose(x); double t5=now();
  printf("%-9s N %6d maps %7ld write_s %.2f index_s %.2f read_s %.3f read_cpu_s %.3f close_s %.3f bad %ld\n",mode,N,nmap,t1-t0,t2-t1,t4-t3,c4-c3,t5-t4,bad);
  return 0;}
